// Rasterises a facesjs face with sharp and measures its 68 landmarks from the drawing itself: each feature (head,
// eyes, eyebrows, nose, mouth) is rendered alone into an alpha mask at the same view, and the iBUG 68-point layout is
// read off those masks (extreme columns, top and bottom edges, rays to the jaw outline). So the points follow what
// facesjs actually drew (rotation, fatness, flips), within the approximation documented in docs/evaluation.md.
import sharp from 'sharp';
import { faceToSvgString, type FaceConfig } from 'facesjs';
import type { Point } from '../../../src/contracts/geometry.ts';

/** The square of facesjs's 400×600 canvas that becomes the image: [x, y, side] in SVG units. */
export const DEFAULT_VIEW: [number, number, number] = [10, 130, 380];
/** Where facesjs centres the eyes (display.js): the jaw rays start at eye height. */
const EYE_Y = 310;
const MASK_SIZE = 256;

const FEATURES = ['hairBg', 'body', 'jersey', 'ear', 'head', 'eyeLine', 'smileLine', 'miscLine', 'facialHair', 'eye',
  'eyebrow', 'mouth', 'nose', 'hair', 'glasses', 'accessories'] as const;

/**
 * Where the face sits in the image: a rotation (degrees, about the face centre), a zoom and a shift (fractions of
 * the image side). Real face crops vary this way; without it every synthetic face would sit at one place and the
 * mean shape would already be a good landmark predictor.
 */
export interface Placement {
  angle: number;
  zoom: number;
  dx: number;
  dy: number;
}
export const NO_PLACEMENT: Placement = { angle: 0, zoom: 1, dx: 0, dy: 0 };
/** Face centre in SVG units, the rotation's pivot. */
const PIVOT: Point = [200, 330];

function placedView(view: [number, number, number], placement: Placement): [number, number, number] {
  const side = view[2] / placement.zoom;
  const cx = view[0] + view[2] / 2 - placement.dx * side, cy = view[1] + view[2] / 2 - placement.dy * side;
  return [cx - side / 2, cy - side / 2, side];
}

function svgFor(face: FaceConfig, view: [number, number, number], size: number, only?: string, placement = NO_PLACEMENT): string {
  const copy = structuredClone(face) as unknown as Record<string, { id?: string }>;
  if (only) for (const f of FEATURES) if (f !== only && copy[f]) copy[f] = { ...copy[f], id: '__skip__' };
  const v = placedView(view, placement);
  const svg = faceToSvgString(copy as unknown as FaceConfig)
    .replace('viewBox="0 0 400 600"', `viewBox="${v[0]} ${v[1]} ${v[2]} ${v[2]}"`)
    .replace('width="100%" height="100%"', `width="${size}" height="${size}"`);
  if (!placement.angle) return svg;
  const open = svg.indexOf('>') + 1;
  const close = svg.lastIndexOf('</svg>');
  return `${svg.slice(0, open)}<g transform="rotate(${placement.angle} ${PIVOT[0]} ${PIVOT[1]})">${svg.slice(open, close)}</g></svg>`;
}

export async function renderPng(face: FaceConfig, size: number, view = DEFAULT_VIEW, placement = NO_PLACEMENT): Promise<Buffer> {
  // A plain background: facesjs draws no backdrop; flatten over grey so the PNG has no alpha.
  return sharp(Buffer.from(svgFor(face, view, size, undefined, placement))).flatten({ background: '#c8ccd0' }).png().toBuffer();
}

/** Moves points measured in the unposed view (pixels of `size`) to where the posed rendering draws them. */
export function placePoints(pts: Point[], size: number, view: [number, number, number], placement: Placement): Point[] {
  const v = placedView(view, placement);
  const a = (placement.angle * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
  return pts.map(([x, y]) => {
    const sx = view[0] + (x / size) * view[2] - PIVOT[0], sy = view[1] + (y / size) * view[2] - PIVOT[1];
    const rx = PIVOT[0] + c * sx - s * sy, ry = PIVOT[1] + s * sx + c * sy;
    return [((rx - v[0]) / v[2]) * size, ((ry - v[1]) / v[2]) * size];
  });
}

class Mask {
  constructor(readonly a: Uint8Array, readonly n: number) {}
  static async of(face: FaceConfig, feature: string, view: [number, number, number]): Promise<Mask> {
    const raw = await sharp(Buffer.from(svgFor(face, view, MASK_SIZE, feature))).ensureAlpha().extractChannel(3).raw()
      .toBuffer();
    return new Mask(new Uint8Array(raw), MASK_SIZE);
  }
  on(x: number, y: number): boolean {
    const xi = Math.round(x), yi = Math.round(y);
    return xi >= 0 && yi >= 0 && xi < this.n && yi < this.n && this.a[yi * this.n + xi]! > 127;
  }
  /** Columns [x0, x1) restricted; returns the horizontal extent of the mask there. */
  extent(x0 = 0, x1 = this.n): { lo: number; hi: number } | null {
    let lo = -1, hi = -1;
    for (let x = x0; x < x1; x++) {
      for (let y = 0; y < this.n; y++) {
        if (this.a[y * this.n + x]! > 127) {
          if (lo < 0) lo = x;
          hi = x;
          break;
        }
      }
    }
    return lo < 0 ? null : { lo, hi };
  }
  /** Top, bottom and mean row of the mask in column x (searching a few neighbours if the column is empty). */
  column(x: number): { top: number; bottom: number; mid: number } {
    // Thin strokes can leave a column empty at mask resolution: look at the nearest non-empty one.
    for (const dx of [0, ...Array.from({ length: 24 }, (_, i) => (i % 2 ? 1 : -1) * Math.ceil((i + 1) / 2))]) {
      const xi = Math.min(this.n - 1, Math.max(0, Math.round(x) + dx));
      let top = -1, bottom = -1, sum = 0, count = 0;
      for (let y = 0; y < this.n; y++) {
        if (this.a[y * this.n + xi]! > 127) {
          if (top < 0) top = y;
          bottom = y;
          sum += y;
          count++;
        }
      }
      if (count) return { top, bottom, mid: sum / count };
    }
    throw new Error(`synthetic face: empty mask column near x=${x}`);
  }
  /** The last on-pixel met walking from (cx, cy) along angle θ. */
  ray(cx: number, cy: number, theta: number): Point {
    const dx = Math.cos(theta), dy = Math.sin(theta);
    let last: Point = [cx, cy];
    for (let r = 0; r < this.n * 1.5; r += 0.5) {
      const x = cx + dx * r, y = cy + dy * r;
      if (this.on(x, y)) last = [x, y];
    }
    return last;
  }
}

/** Eye or eyebrow pair: the masks of both are split at the canvas centre line. */
function halves(m: Mask, centre: number): Array<{ lo: number; hi: number }> {
  const left = m.extent(0, Math.round(centre));
  const right = m.extent(Math.round(centre), m.n);
  if (!left || !right) throw new Error('synthetic face: a paired feature was not drawn');
  return [left, right];
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

/** The 68 iBUG landmarks of a face, in pixels of an image `size` wide rendered with the same view. */
export async function landmarks68(face: FaceConfig, size: number, view = DEFAULT_VIEW): Promise<Point[]> {
  const [head, eye, brow, nose, mouth] = await Promise.all(
    ['head', 'eye', 'eyebrow', 'nose', 'mouth'].map((f) => Mask.of(face, f, view)),
  );
  const toMask = (sx: number, sy: number): Point => [((sx - view[0]) / view[2]) * MASK_SIZE, ((sy - view[1]) / view[2]) * MASK_SIZE];
  const [centreX] = toMask(200, 0);
  const pts: Point[] = [];

  // Jaw 0–16: rays from the head's centre at eye height, image-left round the chin to image-right.
  const h = head.extent()!;
  const eyeY = toMask(0, EYE_Y)[1];
  const hc = (h.lo + h.hi) / 2;
  for (let i = 0; i <= 16; i++) pts.push(head.ray(hc, eyeY, Math.PI - (i * Math.PI) / 16));

  // Eyebrows 17–21 and 22–26: five points along each brow's centre line, image-left to image-right.
  for (const b of halves(brow, centreX)) {
    for (let i = 0; i < 5; i++) {
      const x = lerp(b.lo + 1, b.hi - 1, i / 4);
      pts.push([x, brow.column(x).mid]);
    }
  }

  // Nose 27–35: bridge from the eye line down to the tip, then the base left to right.
  const nb = nose.extent()!;
  const ncx = (nb.lo + nb.hi) / 2;
  const [eyeL, eyeR] = halves(eye, centreX);
  const eyeLine = (eye.column((eyeL!.lo + eyeL!.hi) / 2).mid + eye.column((eyeR!.lo + eyeR!.hi) / 2).mid) / 2;
  let noseBottom = 0, noseTop = Infinity;
  for (let x = nb.lo; x <= nb.hi; x++) {
    const c = nose.column(x);
    noseBottom = Math.max(noseBottom, c.bottom);
    noseTop = Math.min(noseTop, c.top);
  }
  const tipY = lerp(noseTop, noseBottom, 0.75);
  for (let i = 0; i < 4; i++) pts.push([centreX + (ncx - centreX) * (i / 3), lerp(eyeLine, tipY, i / 3)]);
  for (let i = 0; i < 5; i++) {
    const x = lerp(nb.lo + (nb.hi - nb.lo) * 0.15, nb.hi - (nb.hi - nb.lo) * 0.15, i / 4);
    pts.push([x, Math.max(tipY, nose.column(x).bottom - (i === 2 ? 0 : 2))]);
  }

  // Eyes 36–41 (image-left: outer corner first) and 42–47 (image-right: inner corner first), clockwise.
  for (const e of [eyeL!, eyeR!]) {
    const w = e.hi - e.lo;
    pts.push([e.lo, eye.column(e.lo).mid]);
    pts.push([e.lo + w / 3, eye.column(e.lo + w / 3).top]);
    pts.push([e.lo + (2 * w) / 3, eye.column(e.lo + (2 * w) / 3).top]);
    pts.push([e.hi, eye.column(e.hi).mid]);
    pts.push([e.lo + (2 * w) / 3, eye.column(e.lo + (2 * w) / 3).bottom]);
    pts.push([e.lo + w / 3, eye.column(e.lo + w / 3).bottom]);
  }

  // Mouth: outer lip 48–59 (left corner, top left→right, right corner, bottom right→left), inner lip 60–67.
  const m = mouth.extent()!;
  const mx = (t: number) => lerp(m.lo, m.hi, t);
  pts.push([m.lo, mouth.column(m.lo).mid]);
  for (const t of [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6]) pts.push([mx(t), mouth.column(mx(t)).top]);
  pts.push([m.hi, mouth.column(m.hi).mid]);
  for (const t of [5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]) pts.push([mx(t), mouth.column(mx(t)).bottom]);
  // Inner lip: facesjs draws no separate inner contour; take the lip centre line, a quarter of the way to each edge.
  const inner = (t: number, side: 'top' | 'bottom') => {
    const c = mouth.column(mx(t));
    return lerp(c.mid, c[side], 0.25);
  };
  pts.push([mx(0.1), mouth.column(mx(0.1)).mid]);
  for (const t of [0.3, 0.5, 0.7]) pts.push([mx(t), inner(t, 'top')]);
  pts.push([mx(0.9), mouth.column(mx(0.9)).mid]);
  for (const t of [0.7, 0.5, 0.3]) pts.push([mx(t), inner(t, 'bottom')]);

  const k = size / MASK_SIZE;
  return pts.map(([x, y]) => [(x + 0.5) * k, (y + 0.5) * k]);
}
