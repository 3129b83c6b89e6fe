// The shapes face analysis hands to the pipeline: one record per detected face and one verdict per image.

export type Verdict = 'accepted' | 'rejected';

export interface FaceRecord {
  /** [x, y, w, h] in source pixels (after EXIF rotation); may reach past the image edge as the detector drew it. */
  box: [number, number, number, number];
  /** Detector confidence (blazeface box score), 0..1. */
  score: number;
  /** Box area inside the image over image area. */
  faceRatio: number;
  /**
   * Source pixels. Faces that reached the mesh stage: the 468 MediaPipe FaceMesh points in MediaPipe's index order.
   * Faces stopped by the geometry policy: blazeface's 6 keypoints (right eye, left eye, nose, mouth, right ear,
   * left ear; "right" is the subject's right, on the image's left).
   */
  landmarks: [number, number][];
  /** Degrees. From the mesh where it ran; otherwise yaw and pitch are NaN and roll comes from the eye keypoints. */
  yaw: number;
  pitch: number;
  roll: number;
  /** Variance of the Laplacian of the grey face box resized to 112×112 (0..255 grey levels). */
  sharpness: number;
  /** 64-bit difference hash of the grey face box (9×8 area-averaged), 16 hex chars. */
  dhash: string;
  /** 1024-d human (faceres) descriptor, L2-normalised; only for faces that passed the geometry policy. */
  descriptor?: Float32Array;
  status: Verdict;
  reason?: string;
}

export interface ImageAnalysis {
  /** Largest first. */
  faces: FaceRecord[];
  status: Verdict | 'no_face';
  reason?: string;
  /** The largest face's ratio, 0 when none. */
  faceRatio: number;
  /** Milliseconds spent in each stage, for the cascade's accounting. */
  timings?: { detect: number; describe: number };
  /** Milliseconds by finer stage (each model, human's own work, measurements, policy); only when profiling. */
  profile?: Record<string, number>;
}

/** What FacePool.analyse takes: a decoded analysis raster and the source geometry it came from. */
export interface AnalysisInput {
  rgb: Buffer;
  aw: number;
  ah: number;
  /** Source pixels per analysis pixel. */
  scale: number;
  width: number;
  height: number;
}
