// Loading @vladmandic/human on the wasm backend from its own shipped models, with no network and no globals
// beyond a file:// capable fetch (Node's fetch refuses file:// URLs, and human loads models through fetch).
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmDir } from './backend.ts';

const require = createRequire(import.meta.url);

// The package's exports map hides package.json; its main file sits in dist/.
export const humanDir = dirname(dirname(require.resolve('@vladmandic/human')));

type HumanModule = typeof import('@vladmandic/human');
export type Human = InstanceType<HumanModule['Human']>;
export type HumanConfig = Partial<Human['config']>;

let fetchPatched = false;
function allowFileFetch(): void {
  if (fetchPatched) return;
  fetchPatched = true;
  const inner = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return inner(input, init);
    const body = await readFile(fileURLToPath(url));
    const type = url.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(body, { status: 200, headers: { 'content-type': type } });
  }) as typeof fetch;
}

/** Only the face pipeline; every other model off. `full` adds mesh + descriptor to the detector. */
export function humanConfig(opts: { maxDetected: number; minConfidence: number; full: boolean }): HumanConfig {
  const off = { enabled: false };
  return {
    backend: 'wasm',
    wasmPath: wasmDir(),
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
      description: { enabled: opts.full },
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

/** A Human instance with the detector, mesh and descriptor models loaded (each instance its own wasm runtime). */
export async function createHuman(maxDetected: number, minConfidence: number): Promise<Human> {
  allowFileFetch();
  const { Human } = require(join(humanDir, 'dist/human.node-wasm.js')) as HumanModule;
  const human = new Human(humanConfig({ maxDetected, minConfidence, full: true }));
  await human.load();
  return human;
}
