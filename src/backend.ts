// The tensor backend loader: one place decides which tfjs backend runs, for face analysis and training alike.
// Preference: tensorflow-gpu (tfjs-node-gpu) > tensorflow (tfjs-node) > wasm > cpu. The native two are optional
// dependencies, absent where their install cannot download TensorFlow; `--backend` overrides the choice.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Backend } from './config.ts';

const require = createRequire(import.meta.url);

export type Tf = typeof import('@tensorflow/tfjs');

export interface LoadedBackend {
  tf: Tf;
  /** The backend tfjs runs on: tensorflow | wasm | cpu. */
  name: string;
  /** What was asked for and what was taken, for the user. */
  description: string;
}

const order: Exclude<Backend, 'auto'>[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Directory holding tfjs-backend-wasm's .wasm binaries, for setWasmPaths. */
export function wasmDir(): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function tryBackend(tf: Tf, which: Exclude<Backend, 'auto'>): Promise<string | null> {
  switch (which) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = which === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        // The native packages bring their own copy of tfjs-core; they register the 'tensorflow' backend on it.
        await import(pkg);
      } catch {
        return null;
      }
      return (await tf.setBackend('tensorflow').catch(() => false)) ? 'tensorflow' : null;
    }
    case 'wasm': {
      try {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(wasmDir());
        // Node's worker threads give wasm no SharedArrayBuffer threads here; one thread per instance,
        // parallelism comes from running several instances (worker_threads).
        wasm.setThreadsCount?.(1);
      } catch {
        return null;
      }
      return (await tf.setBackend('wasm').catch(() => false)) ? 'wasm' : null;
    }
    case 'cpu':
      return (await tf.setBackend('cpu').catch(() => false)) ? 'cpu' : null;
  }
}

// tfjs has one global backend: two loads at once (two tests, or two callers in one process) race in setBackend and
// the second sees the first's half-initialised wasm backend as unavailable. Loads are therefore taken in turn.
let loading: Promise<unknown> = Promise.resolve();

export function loadBackend(wanted: Backend = 'auto', opts: { quiet?: boolean } = {}): Promise<LoadedBackend> {
  const next = loading.then(() => loadBackendNow(wanted, opts));
  loading = next.catch(() => undefined);
  return next;
}

async function loadBackendNow(wanted: Backend, opts: { quiet?: boolean }): Promise<LoadedBackend> {
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  const candidates = wanted === 'auto' ? order : [wanted];
  const tried: string[] = [];
  for (const which of candidates) {
    const name = await tryBackend(tf, which);
    if (name) {
      await tf.ready();
      const description =
        wanted === 'auto'
          ? `backend: ${which}${tried.length ? ` (not available: ${tried.join(', ')})` : ''}`
          : `backend: ${which} (asked for)`;
      if (!opts.quiet) process.stderr.write(`${description}\n`);
      return { tf, name, description };
    }
    tried.push(which);
  }
  throw new Error(
    `backend ${wanted} is not available` +
      (wanted.startsWith('tensorflow') ? ` (install @tensorflow/tfjs-node${wanted === 'tensorflow-gpu' ? '-gpu' : ''})` : ''),
  );
}
