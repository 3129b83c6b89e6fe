// Loading @vladmandic/human from its own shipped models, with no network and no globals beyond a file:// capable
// fetch (Node's fetch refuses file:// URLs, and human loads models through fetch).
// The backend follows the project's order (DESIGN.md, src/backend.ts): human's tfjs-node build (dist/human.node.js,
// or human.node-gpu.js) where @tensorflow/tfjs-node(-gpu) is installed, else its wasm build. human ships one build
// per backend (human.node.js requires tfjs-node), so the choice is made here, in the same order as loadBackend.
// On wasm the descriptor model is loaded with its clip_by_value chains fused to Relu6 (src/human-graph.ts): exact,
// and 2.4× faster there (docs/profile-curation.md). `reference` keeps human's stock graphs on wasm: the path decisions are compared against.
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmDir } from './backend.ts';
import type { Backend } from './config.ts';
import { fuseClipToRelu6, scalarWeights, type ModelJson } from './human-graph.ts';

const require = createRequire(import.meta.url);

// The package's exports map hides package.json; its main file sits in dist/.
export const humanDir = dirname(dirname(require.resolve('@vladmandic/human')));

type HumanModule = typeof import('@vladmandic/human');
export type Human = InstanceType<HumanModule['Human']>;
export type HumanConfig = Partial<Human['config']>;

/** A model file name whose graph is served rewritten: `faceres.relu6.json` is faceres.json through fuseClipToRelu6. */
const FUSED_SUFFIX = '.relu6.json';
const DESCRIPTOR = 'faceres.json';
/** How many clip_by_value chains each served rewrite fused, by file path (0: served the stock graph). */
const fusedCounts = new Map<string, number>();

let fetchPatched = false;
function allowFileFetch(): void {
  if (fetchPatched) return;
  fetchPatched = true;
  const inner = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return inner(input, init);
    const path = fileURLToPath(url);
    const body = path.endsWith(FUSED_SUFFIX) ? await fusedModel(path) : await readFile(path);
    const type = url.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(body, { status: 200, headers: { 'content-type': type } });
  }) as typeof fetch;
}

/** The rewritten graph of `<name>.json`, fused only where the bounds read from the weights are 6 and 0. */
async function fusedModel(path: string): Promise<string> {
  const stockPath = path.slice(0, -FUSED_SUFFIX.length) + '.json';
  const stock = JSON.parse(await readFile(stockPath, 'utf8')) as ModelJson;
  const consts = new Set(stock.modelTopology.node.filter((n) => n.op === 'Const').map((n) => n.name));
  const bins = (stock.weightsManifest as { paths: string[] }[]).flatMap((g) => g.paths);
  const bytes = Buffer.concat(await Promise.all(bins.map((b) => readFile(join(dirname(stockPath), b)))));
  const values = scalarWeights(stock, bytes, consts);
  const { model, fused } = fuseClipToRelu6(stock, (name) => values?.get(name));
  fusedCounts.set(path, fused.length);
  return JSON.stringify(fused.length ? model : stock);
}

/** Which build of human runs face analysis, and with which graphs. */
export interface HumanRuntime {
  /** tfjs backend human runs on. */
  backend: 'tensorflow' | 'wasm';
  /** human's dist file. */
  dist: string;
  /** The descriptor graph with clip_by_value fused to Relu6 (wasm only). */
  fusedDescriptor: boolean;
  /** One line for the user: what was taken and, where the native build was skipped, why. */
  description: string;
}

export interface HumanOptions {
  /** The project's backend setting (config.backend); face analysis follows it. */
  backend?: Backend;
  /** Stock graphs on wasm: the path the fast path's decisions are checked against. */
  reference?: boolean;
}

function resolves(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * human's builds to try, in order: the tfjs-node ones whose package resolves (unless declined), then wasm (unless a
 * native one was asked for by name). The wasm entry says why the native ones were passed over.
 */
export function humanRuntimes(opts: HumanOptions = {}, failed: string[] = []): HumanRuntime[] {
  const wanted = opts.reference ? 'wasm' : opts.backend ?? 'auto';
  const natives = [
    { backend: 'tensorflow-gpu', pkg: '@tensorflow/tfjs-node-gpu', dist: 'dist/human.node-gpu.js' },
    { backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', dist: 'dist/human.node.js' },
  ] as const;
  const out: HumanRuntime[] = [];
  const skipped: string[] = [];
  for (const n of natives) {
    if (wanted !== 'auto' && wanted !== n.backend) continue;
    if (resolves(n.pkg)) {
      out.push({ backend: 'tensorflow', dist: n.dist, fusedDescriptor: false, description: `face analysis: ${n.backend} (${n.dist})` });
    } else if (wanted === n.backend) {
      throw new Error(`face analysis backend ${wanted} is not available (install ${n.pkg})`);
    } else {
      skipped.push(`${n.pkg} not installed`);
    }
  }
  if (wanted === 'auto' || wanted === 'wasm' || wanted === 'cpu') {
    const fused = !opts.reference;
    const why = opts.reference
      ? ['reference: stock graphs']
      : wanted === 'cpu'
        ? ['cpu is not offered for face analysis']
        : [...skipped, ...failed];
    out.push({
      backend: 'wasm',
      dist: 'dist/human.node-wasm.js',
      fusedDescriptor: fused,
      description: `face analysis: wasm${fused ? ', descriptor graph fused (Relu6)' : ''}${why.length ? ` (${why.join(', ')})` : ''}`,
    });
  }
  return out;
}

/** The build loadHuman tries first. */
export function chooseHumanRuntime(opts: HumanOptions = {}): HumanRuntime {
  return humanRuntimes(opts)[0]!;
}

let defaultRuntime: HumanRuntime | undefined;

/** Only the face pipeline; every other model off. `full` adds mesh + descriptor to the detector. */
export function humanConfig(opts: { maxDetected: number; minConfidence: number; full: boolean; runtime?: HumanRuntime }): HumanConfig {
  const off = { enabled: false };
  // Without a runtime: the one loadHuman takes by default, so a per-call config never switches human's backend.
  const runtime = opts.runtime ?? (defaultRuntime ??= chooseHumanRuntime());
  const descriptor = runtime.fusedDescriptor ? DESCRIPTOR.replace(/\.json$/, FUSED_SUFFIX) : DESCRIPTOR;
  return {
    backend: runtime.backend,
    ...(runtime.backend === 'wasm' ? { wasmPath: wasmDir() } : {}),
    modelBasePath: `file://${humanDir}/models/`,
    debug: false,
    async: false,
    warmup: 'none',
    // 0 disables human's frame cache: consecutive images are unrelated, never frames of one video.
    cacheSensitivity: 0,
    filter: { ...off, equalization: false },
    face: {
      enabled: true,
      // human enlarges blazeface's box by `scale` (1.4 by default) to give the mesh model the whole head. Stage 1
      // wants the face itself (the policy's face ratio and size, dHash, sharpness, export crops): scale 1.
      detector: { rotation: false, maxDetected: opts.maxDetected, minConfidence: opts.minConfidence, return: false, scale: opts.full ? 1.4 : 1 },
      mesh: { enabled: opts.full },
      description: { enabled: opts.full, modelPath: descriptor },
      iris: off,
      emotion: off,
      antispoof: off,
      liveness: off,
      attention: off,
      gear: off,
    },
    body: off,
    hand: off,
    object: off,
    gesture: off,
    segmentation: off,
  } as HumanConfig;
}

/**
 * A Human instance with the detector, mesh and descriptor models loaded (each instance its own tfjs runtime), and
 * the runtime it took. A fused descriptor whose constants are not the Relu6 bounds is replaced by the stock graph,
 * with a line saying so.
 */
export async function loadHuman(
  maxDetected: number,
  minConfidence: number,
  opts: HumanOptions = {},
): Promise<{ human: Human; runtime: HumanRuntime }> {
  allowFileFetch();
  const start = async (r: HumanRuntime) => {
    const { Human } = require(join(humanDir, r.dist)) as HumanModule;
    const h = new Human(humanConfig({ maxDetected, minConfidence, full: true, runtime: r }));
    await h.load();
    return h;
  };
  // An installed tfjs-node whose native library does not load (no CUDA for the -gpu one, say): the next in order.
  const failed: string[] = [];
  let loaded: { human: Human; runtime: HumanRuntime } | undefined;
  for (let i = 0; !loaded; i++) {
    const candidates = humanRuntimes(opts, failed);
    const r = candidates[i];
    if (!r) throw new Error(`face analysis: no backend loaded (${failed.join(', ')})`);
    try {
      loaded = { human: await start(r), runtime: r };
    } catch (err) {
      if (r.backend === 'wasm') throw err;
      failed.push(`${r.dist} failed to load: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  let { runtime } = loaded;
  const { human } = loaded;
  if (runtime.fusedDescriptor) {
    const path = join(humanDir, 'models', DESCRIPTOR.replace(/\.json$/, FUSED_SUFFIX));
    const fused = fusedCounts.get(path) ?? 0;
    // human caches its descriptor model per thread: a second instance reuses the first one's, fused or not.
    if (fused === 0 && fusedCounts.has(path)) {
      runtime = { ...runtime, fusedDescriptor: false, description: 'face analysis: wasm (descriptor graph left stock: no Relu6 pattern with bounds 6 and 0)' };
    }
  }
  return { human, runtime };
}

/** Back-compatible form: the Human alone, on the project's default backend choice. */
export async function createHuman(maxDetected: number, minConfidence: number, opts: HumanOptions = {}): Promise<Human> {
  return (await loadHuman(maxDetected, minConfidence, opts)).human;
}
