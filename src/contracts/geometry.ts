// Geometry shared across the rooms: face boxes, points, head pose and search hits. Defined once here so the
// writer and the reader of each boundary (analyser → export → manifest → training; index → web) use one type.

/** A point in pixels: [x, y]. */
export type Point = [x: number, y: number];

/**
 * A box in pixels: [x, y, w, h], top-left corner and size. The one form of a box everywhere: the face analyser's,
 * the crop square's, the manifest's and the web API's.
 */
export type Box = [x: number, y: number, w: number, h: number];

/** Head pose in degrees. */
export interface Pose {
  yaw: number;
  pitch: number;
  roll: number;
}

/** One search hit: a face and its cosine similarity to the query (higher is closer). */
export interface Neighbour {
  faceId: number;
  similarity: number;
}
