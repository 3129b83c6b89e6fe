// One Human instance running the face cascade on one analysis raster at a time.
// Stage 1 runs the detector alone (blazeface, ~20–50 ms on wasm) on every image; the geometry policy then picks the
// faces worth describing. Stage 2 runs detector + mesh + descriptor (~80–150 ms per face on wasm; measured in
// docs/profile-curation.md) on a square crop around each picked face only: a crowd, a small face or a non-face image never pays for the mesh and descriptor models.
import type { Backend, FaceConfig, PolicyConfig } from '../../src/config.ts';
import { judgeImage, judgeImageGeometry, judgePose } from '../policy.ts';
import { humanConfig, loadHuman, type Human, type HumanConfig, type HumanRuntime } from '../../src/human.ts';
import { installFaceConv } from '../../src/native-conv.ts';
import type { Tf } from '../../src/backend.ts';
import { iou, rollFromEyes, sharpness } from './measure.ts';
import { dhash } from '../../src/dhash.ts';
import type { AnalysisInput, FaceRecord, ImageAnalysis } from './types.ts';
import type { Box } from '../../src/contracts/geometry.ts';

/** What each of human's models is called in the profile, by cascade stage (the detector runs in both). */
const STAGE_NAMES: Record<'detect' | 'describe', Record<string, string>> = {
  detect: { blazeface: 'detector' },
  describe: { blazeface: 'detector (stage-2 crop)', facemesh: 'mesh', faceres: 'descriptor' },
};

const DEG = 180 / Math.PI;
/**
 * Stage-2 crop side as a multiple of the (tight, stage-1) face box's longer side: room for blazeface to see a whole
 * head and for human's own 1.4× enlargement for the mesh.
 */
const CROP_SCALE = 3;

interface RawFace {
  box: Box;
  score: number;
  points: [number, number][];
  yaw: number;
  pitch: number;
  roll: number;
  embedding?: number[];
}

export class FaceAnalyser {
  /** Model milliseconds since the last reset, by model name; null unless loaded with `profile`. */
  private modelMs: Record<string, number> | null = null;

  private constructor(
    /** human's build and graphs this analyser runs on. */
    readonly runtime: HumanRuntime,
    private readonly human: Human,
    private readonly faces: FaceConfig,
    private readonly policy: PolicyConfig,
    private readonly detectOnly: HumanConfig,
    private readonly describe: HumanConfig,
  ) {}

  /**
   * `backend`: the project's backend setting (human's tfjs-node build where installed, else wasm); `reference`: stock
   * graphs on wasm; `profile`: time every model run, returned per stage in `ImageAnalysis.profile`; `nativeConv`:
   * on wasm, the native convolution kernels (src/native-conv.ts) where they self-test, which replaces the kernels
   * for this thread's whole tfjs: the face worker threads ask for it, nothing on a thread that also trains.
   */
  static async load(
    cfg: { faces: FaceConfig; policy: PolicyConfig; backend?: Backend },
    opts: { profile?: boolean; reference?: boolean; nativeConv?: boolean } = {},
  ): Promise<FaceAnalyser> {
    const loaded = await loadHuman(cfg.faces.maxDetected, cfg.faces.detectorMinScore, {
      backend: cfg.backend,
      reference: opts.reference,
    });
    const { human } = loaded;
    let { runtime } = loaded;
    if (opts.nativeConv && !opts.reference && runtime.backend === 'wasm') {
      const conv = installFaceConv(human.tf as unknown as Tf);
      runtime = { ...runtime, description: `${runtime.description}; ${conv.description}` };
    }
    const mk = (full: boolean, maxDetected: number) =>
      humanConfig({ maxDetected, minConfidence: cfg.faces.detectorMinScore, full, runtime });
    const a = new FaceAnalyser(runtime, human, cfg.faces, cfg.policy, mk(false, cfg.faces.maxDetected), mk(true, 1));
    if (opts.profile) a.instrument();
    return a;
  }

  /** Wraps each loaded model's execute with a clock. On wasm a model's kernels run inside execute, synchronously. */
  private instrument(): void {
    const ms: Record<string, number> = (this.modelMs = {});
    for (const [name, model] of Object.entries(this.human.models.models)) {
      if (!model) continue;
      const execute = model.execute.bind(model);
      model.execute = ((...args: Parameters<typeof execute>) => {
        const t = performance.now();
        try {
          return execute(...args);
        } finally {
          ms[name] = (ms[name] ?? 0) + performance.now() - t;
        }
      }) as typeof model.execute;
      const executeAsync = model.executeAsync.bind(model);
      model.executeAsync = (async (...args: Parameters<typeof executeAsync>) => {
        const t = performance.now();
        try {
          return await executeAsync(...args);
        } finally {
          ms[name] = (ms[name] ?? 0) + performance.now() - t;
        }
      }) as typeof model.executeAsync;
    }
  }

  /** Moves the model times gathered since the last call into `into`, under the stage's names. */
  private takeModelTimes(stage: 'detect' | 'describe', into: Record<string, number>): number {
    let sum = 0;
    for (const [name, v] of Object.entries(this.modelMs ?? {})) {
      const key = STAGE_NAMES[stage][name] ?? `${name} (${stage})`;
      into[key] = (into[key] ?? 0) + v;
      sum += v;
      delete this.modelMs![name];
    }
    return sum;
  }

  private async detect(rgb: Uint8Array, w: number, h: number, config: HumanConfig): Promise<RawFace[]> {
    const tf = this.human.tf;
    const tensor = tf.tensor3d(rgb, [h, w, 3], 'int32');
    try {
      const result = await this.human.detect(tensor as never, config);
      if (result.error) throw new Error(`human: ${result.error}`);
      return result.face.map((f) => ({
        box: f.box as Box,
        score: f.boxScore ?? f.score,
        points: f.mesh.map((p) => [p[0], p[1]] as [number, number]),
        yaw: (f.rotation?.angle.yaw ?? NaN) * DEG,
        pitch: (f.rotation?.angle.pitch ?? NaN) * DEG,
        roll: (f.rotation?.angle.roll ?? NaN) * DEG,
        embedding: f.embedding && f.embedding.length ? f.embedding : undefined,
      }));
    } finally {
      tf.dispose(tensor);
    }
  }

  /** Stage 2 on a square crop around `box` (analysis pixels); the result mapped back to analysis pixels. */
  private async describeFace(rgb: Uint8Array, w: number, h: number, box: Box): Promise<RawFace | null> {
    const side = Math.round(Math.max(box[2], box[3]) * CROP_SCALE);
    const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
    const x0 = Math.max(0, Math.round(cx - side / 2)), y0 = Math.max(0, Math.round(cy - side / 2));
    const x1 = Math.min(w, Math.round(cx + side / 2)), y1 = Math.min(h, Math.round(cy + side / 2));
    const cw = x1 - x0, ch = y1 - y0;
    const crop = new Uint8Array(cw * ch * 3);
    for (let y = 0; y < ch; y++) crop.set(rgb.subarray(((y0 + y) * w + x0) * 3, ((y0 + y) * w + x1) * 3), y * cw * 3);
    let found = (await this.detect(crop, cw, ch, this.describe)).map((f) => shift(f, x0, y0));
    // The crop can lose the face (an edge case of blazeface's anchors): fall back to the whole image.
    if (!found.some((f) => iou(f.box, box) > 0.3 && f.embedding)) {
      const cfg = { ...this.describe, face: { ...this.describe.face, detector: { ...this.describe.face!.detector, maxDetected: this.faces.maxDetected } } };
      found = await this.detect(rgb, w, h, cfg as HumanConfig);
    }
    const best = found.filter((f) => f.embedding).sort((a, b) => iou(b.box, box) - iou(a.box, box))[0];
    return best && iou(best.box, box) > 0.3 ? best : null;
  }

  async analyse(input: AnalysisInput): Promise<ImageAnalysis> {
    const { aw, ah, scale, width, height } = input;
    if (input.rgb.byteLength !== aw * ah * 3 || !(scale > 0) || !(width > 0) || !(height > 0)) {
      throw new Error(`analyse: raster of ${input.rgb.byteLength} bytes is not ${aw}×${ah}×3, or bad geometry`);
    }
    const rgb = new Uint8Array(input.rgb.buffer, input.rgb.byteOffset, input.rgb.byteLength);
    const prof: Record<string, number> | undefined = this.modelMs ? {} : undefined;
    const t0 = performance.now();
    const detected = await this.detect(rgb, aw, ah, this.detectOnly);
    const tDetected = performance.now();
    const detectModelMs = prof ? this.takeModelTimes('detect', prof) : 0;
    const imageArea = width * height;
    const toSource = (b: Box): Box => [b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale];
    const ratio = (b: Box) => {
      const x0 = Math.max(0, b[0]), y0 = Math.max(0, b[1]);
      const x1 = Math.min(width, b[0] + b[2]), y1 = Math.min(height, b[1] + b[3]);
      return Math.max(0, x1 - x0) * Math.max(0, y1 - y0) / imageArea;
    };
    const records: (FaceRecord & { analysisBox: Box })[] = detected
      .map((f) => {
        const box = toSource(f.box);
        return {
          analysisBox: f.box,
          box,
          score: f.score,
          faceRatio: ratio(box),
          landmarks: f.points.map(([x, y]) => [x * scale, y * scale] as [number, number]),
          yaw: NaN,
          pitch: NaN,
          roll: f.points.length >= 2 ? rollFromEyes(f.points[0]!, f.points[1]!) : NaN,
          sharpness: sharpness(rgb, aw, ah, f.box),
          dhash: dhash(rgb, aw, ah, f.box),
          status: 'rejected' as const,
        };
      })
      .sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
    const tMeasured = performance.now();
    const geometry = judgeImageGeometry(records, this.policy);
    const t1 = performance.now();
    let policyMs = t1 - tMeasured;
    let describeHumanMs = 0;

    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (geometry[i]) {
        r.reason = geometry[i]!;
        continue;
      }
      const td = performance.now();
      const d = await this.describeFace(rgb, aw, ah, r.analysisBox);
      describeHumanMs += performance.now() - td;
      if (!d) {
        // Detected alone but not found again with the mesh: too weak a face to describe.
        r.reason = 'low_score';
        continue;
      }
      r.landmarks = d.points.map(([x, y]) => [round1(x * scale), round1(y * scale)]);
      r.yaw = d.yaw;
      r.pitch = d.pitch;
      r.roll = d.roll;
      r.descriptor = normalise(d.embedding!);
      const tp = performance.now();
      const pose = judgePose(r, this.policy);
      policyMs += performance.now() - tp;
      if (pose) r.reason = pose;
      else r.status = 'accepted';
    }
    const t2 = performance.now();
    const faces: FaceRecord[] = records.map(({ analysisBox: _, ...r }) => r);
    const verdict = judgeImage(faces);
    if (prof) {
      const describeModelMs = this.takeModelTimes('describe', prof);
      // human's own work around the models: input conversion, crops and resizes, box decoding, NMS, read-backs.
      prof['human other (stage 1)'] = tDetected - t0 - detectModelMs;
      if (describeHumanMs > 0) prof['human other (stage 2)'] = describeHumanMs - describeModelMs;
      prof['measure (sharpness, dHash)'] = tMeasured - tDetected;
      prof.policy = policyMs;
    }
    return {
      faces,
      ...verdict,
      faceRatio: faces.length ? Math.max(...faces.map((f) => f.faceRatio)) : 0,
      timings: { detect: t1 - t0, describe: t2 - t1 },
      ...(prof ? { profile: prof } : {}),
    };
  }
}

function shift(f: RawFace, dx: number, dy: number): RawFace {
  return {
    ...f,
    box: [f.box[0] + dx, f.box[1] + dy, f.box[2], f.box[3]],
    points: f.points.map(([x, y]) => [x + dx, y + dy]),
  };
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function normalise(v: number[]): Float32Array {
  const out = Float32Array.from(v);
  let n = 0;
  for (const x of out) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}
