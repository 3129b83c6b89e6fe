// Loading the project's native addon (native/, built by `npm run build:native`) and the OpenBLAS it dlopens, for
// every native kernel set: training's matmul and ops (training/kernels/), face analysis's convolutions (src/native-conv.ts).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const defaultAddonPath = join(here, '..', 'native', 'build', 'Release', 'pros_native.node');

/** What every build of the addon exports for loading. */
export interface AddonBase {
  load(library?: string): { ok: boolean; library?: string; config?: string; reason?: string };
  setThreads(n: number): number;
}

// Without OpenBLAS the addon itself still loaded: `ops` carries it for what needs no BLAS (training's elementwise ops).
export type AddonLoad<A extends AddonBase> = { addon: A; library: string; config: string } | { addon: null; reason: string; ops?: A };

/** Loads the addon and OpenBLAS; says why not (and what to install) when either is missing. */
export function loadAddon<A extends AddonBase>(addonPath = defaultAddonPath, blasLibrary?: string): AddonLoad<A> {
  let addon: A;
  try {
    addon = createRequire(import.meta.url)(addonPath) as A;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return {
      addon: null,
      reason: code === 'MODULE_NOT_FOUND'
        ? `native addon not built (${addonPath}; it needs g++, make and python3 — Debian/Ubuntu: apt-get install g++ make python3 — then npm run build:native)`
        : `native addon failed to load: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const r = addon.load(blasLibrary);
  if (!r.ok) {
    return {
      addon: null,
      ops: addon,
      reason: `libopenblas not found (${r.reason}; Debian/Ubuntu: apt-get install libopenblas0-pthread, or PROS_OPENBLAS=/path/to/libopenblas.so.0)`,
    };
  }
  return { addon, library: r.library ?? '', config: r.config ?? '' };
}
