// The curation policy, "predominantly face", as pure functions of measurements and PolicyConfig.
// Stage 1 (geometry: cheap, from detection alone) decides which faces earn the costly mesh and descriptor models;
// stage 2 (pose from the mesh) finishes the verdict. Reasons are stable snake_case strings stored in the database.
//
// | option        | default | meaning                                                                 | reason          |
// |---------------|---------|-------------------------------------------------------------------------|-----------------|
// | (none found)  |         | the detector returned no face above faces.detectorMinScore              | no_face         |
// | maxFaces      | 1       | faces scoring ≥ minScore in one image; more is a group photo            | too_many_faces  |
// | minScore      | 0.5     | detector (blazeface) box score                                          | low_score       |
// | minFaceSize   | 32      | shorter side of the face box, source pixels                             | face_too_small  |
// | minFaceRatio  | 0.05    | face box area (inside the image) / image area                           | face_ratio_low  |
// | maxRoll       | 40      | in-plane tilt, degrees (eye line at stage 1, mesh at stage 2)           | pose_roll       |
// | minSharpness  | 20      | variance of Laplacian of grey face box at 112 px                        | blurry          |
// | maxYaw        | 45      | head turn, degrees, from the mesh                                       | pose_yaw        |
// | maxPitch      | 35      | head nod, degrees, from the mesh                                        | pose_pitch      |
// Measurements behind these values: docs/retrieval-faces.md.
import type { PolicyConfig } from '../src/config.ts';
import type { Pose } from '../src/contracts/geometry.ts';

export type Reason =
  | 'no_face'
  | 'too_many_faces'
  | 'face_too_small'
  | 'face_ratio_low'
  | 'low_score'
  | 'pose_yaw'
  | 'pose_pitch'
  | 'pose_roll'
  | 'blurry';

export interface Geometry {
  /** Box in source pixels. */
  box: [number, number, number, number];
  score: number;
  faceRatio: number;
  /** Degrees; NaN when unknown (then not judged). */
  roll: number;
  sharpness: number;
}

/** Faces that count towards maxFaces: every face the policy considers a real face. */
export function countedFaces(faces: { score: number }[], cfg: PolicyConfig): number {
  return faces.filter((f) => f.score >= cfg.minScore).length;
}

/** Stage 1, one face: the first failed check, in order of cheapness and severity, or null. */
export function judgeGeometry(f: Geometry, cfg: PolicyConfig): Reason | null {
  if (f.score < cfg.minScore) return 'low_score';
  if (Math.min(f.box[2], f.box[3]) < cfg.minFaceSize) return 'face_too_small';
  if (f.faceRatio < cfg.minFaceRatio) return 'face_ratio_low';
  if (Number.isFinite(f.roll) && Math.abs(f.roll) > cfg.maxRoll) return 'pose_roll';
  if (f.sharpness < cfg.minSharpness) return 'blurry';
  return null;
}

/** Stage 1 over an image's detections: per-face reasons (null: passes), with the crowd rule applied to all. */
export function judgeImageGeometry(faces: Geometry[], cfg: PolicyConfig): (Reason | null)[] {
  if (countedFaces(faces, cfg) > cfg.maxFaces) return faces.map(() => 'too_many_faces');
  return faces.map((f) => judgeGeometry(f, cfg));
}

/** Stage 2, one face that passed geometry: the mesh's pose. */
export function judgePose(p: Pose, cfg: PolicyConfig): Reason | null {
  if (Math.abs(p.yaw) > cfg.maxYaw) return 'pose_yaw';
  if (Math.abs(p.pitch) > cfg.maxPitch) return 'pose_pitch';
  if (Math.abs(p.roll) > cfg.maxRoll) return 'pose_roll';
  return null;
}

/**
 * The image's verdict from its faces' verdicts (largest first): accepted when any face is; otherwise the largest
 * face's reason (the one a person would look at), or no_face.
 */
export function judgeImage(faces: { status: 'accepted' | 'rejected'; reason?: string }[]): {
  status: 'accepted' | 'rejected' | 'no_face';
  reason?: string;
} {
  if (faces.length === 0) return { status: 'no_face', reason: 'no_face' };
  if (faces.some((f) => f.status === 'accepted')) return { status: 'accepted' };
  return { status: 'rejected', reason: faces[0]!.reason };
}
