import test from 'ava';
import { countedFaces, judgeGeometry, judgeImage, judgeImageGeometry, judgePose, type Geometry } from '../../retrieval/policy.ts';
import { defaults } from '../../src/config.ts';

const cfg = defaults.policy;
const good: Geometry = { box: [100, 80, 300, 320], score: 0.9, faceRatio: 0.4, roll: 3, sharpness: 500 };

test('a large, sharp, upright, confident face passes geometry and pose', (t) => {
  t.is(judgeGeometry(good, cfg), null);
  t.is(judgePose({ yaw: 10, pitch: -5, roll: 3 }, cfg), null);
});

test('each geometry threshold gives its own reason', (t) => {
  t.is(judgeGeometry({ ...good, score: cfg.minScore - 0.01 }, cfg), 'low_score');
  t.is(judgeGeometry({ ...good, box: [0, 0, cfg.minFaceSize - 1, 400] }, cfg), 'face_too_small');
  t.is(judgeGeometry({ ...good, faceRatio: cfg.minFaceRatio / 2 }, cfg), 'face_ratio_low');
  t.is(judgeGeometry({ ...good, roll: -(cfg.maxRoll + 1) }, cfg), 'pose_roll');
  t.is(judgeGeometry({ ...good, sharpness: cfg.minSharpness - 1 }, cfg), 'blurry');
  // Unknown roll is not held against a face.
  t.is(judgeGeometry({ ...good, roll: NaN }, cfg), null);
  // Thresholds are inclusive of their own value.
  t.is(judgeGeometry({ ...good, score: cfg.minScore, box: [0, 0, cfg.minFaceSize, cfg.minFaceSize], faceRatio: cfg.minFaceRatio, roll: cfg.maxRoll, sharpness: cfg.minSharpness }, cfg), null);
});

test('pose limits: yaw, pitch, roll in degrees, either sign', (t) => {
  t.is(judgePose({ yaw: -(cfg.maxYaw + 1), pitch: 0, roll: 0 }, cfg), 'pose_yaw');
  t.is(judgePose({ yaw: 0, pitch: cfg.maxPitch + 1, roll: 0 }, cfg), 'pose_pitch');
  t.is(judgePose({ yaw: 0, pitch: 0, roll: cfg.maxRoll + 1 }, cfg), 'pose_roll');
});

test('more faces above minScore than maxFaces rejects every face as too_many_faces', (t) => {
  const second: Geometry = { ...good, box: [500, 80, 100, 100], faceRatio: 0.03 };
  t.deepEqual(judgeImageGeometry([good, second], cfg), ['too_many_faces', 'too_many_faces']);
  // A weak detection in the background does not make a group.
  const weak = { ...second, score: cfg.minScore - 0.1 };
  t.is(countedFaces([good, weak], cfg), 1);
  t.deepEqual(judgeImageGeometry([good, weak], cfg), [null, 'low_score']);
  t.deepEqual(judgeImageGeometry([good, second], { ...cfg, maxFaces: 2 }), [null, 'face_ratio_low']);
});

test('image verdict: accepted if any face is, else the largest face’s reason, else no_face', (t) => {
  t.deepEqual(judgeImage([]), { status: 'no_face', reason: 'no_face' });
  t.deepEqual(judgeImage([{ status: 'rejected', reason: 'blurry' }, { status: 'accepted' }]), { status: 'accepted' });
  t.deepEqual(judgeImage([{ status: 'rejected', reason: 'pose_yaw' }, { status: 'rejected', reason: 'face_too_small' }]), {
    status: 'rejected',
    reason: 'pose_yaw',
  });
});
