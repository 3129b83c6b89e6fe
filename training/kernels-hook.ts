// The optional fast matmul kernels (training/kernels/, built separately): installed right after the backend loads
// when present; otherwise tfjs's own kernels run. Returns what was installed, for the user.
import { existsSync } from 'node:fs';
import type { Tf } from '../src/backend.ts';

export async function installKernels(tf: Tf): Promise<string> {
  const file = new URL('./kernels/install.ts', import.meta.url);
  if (!existsSync(file)) return 'stock (training/kernels not present)';
  try {
    const mod = (await import(file.href)) as { installMatmul?: (tf: Tf, o?: { quiet?: boolean }) => { path: string; reason: string } };
    if (typeof mod.installMatmul !== 'function') return 'stock (training/kernels has no installMatmul)';
    const r = mod.installMatmul(tf, { quiet: true });
    return `${r.path} (${r.reason})`;
  } catch (e) {
    return `stock (training/kernels failed: ${(e as Error).message})`;
  }
}
