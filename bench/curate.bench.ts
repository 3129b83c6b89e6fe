// npm run bench:curate [-- --n 500] [--profile] [--workers N]
// End-to-end images/s of `pros curate` over loopback next to the bare fetch + decode + resize rate of the same
// corpus measured in the same run, and their ratio (target ≥ 0.2, issue 9). Run it alone: 2 cores are easily shared.
// --profile: the end-to-end run also prints where each image's milliseconds went, by stage and by face model.
// It then curates the corpus again on the reference path (human's stock graphs on wasm, the path before issue 9) and
// prints how many face decisions and accepted faces differ between the two (--no-compare skips it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { defaults, type ProsConfig } from '../src/config.ts';
import { openWorkspace } from '../src/workspace.ts';
import { buildMixedCorpus } from './mixed-corpus.ts';
import { serveCorpus } from '../app/demo/server.ts';
import { curate } from '../retrieval/pipeline.ts';
import { Fetcher } from '../retrieval/fetch/index.ts';
import { decodeImage } from '../retrieval/decode.ts';
import { StageProfile } from '../retrieval/profile.ts';
import { VectorStore } from '../src/index/store.ts';
import { FacePool } from '../retrieval/faces/pool.ts';
import { DESCRIPTOR_DIM } from '../retrieval/face-index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg('n', 500);
const profiling = process.argv.includes('--profile');

interface FaceDecision {
  /** accepted | rejected | duplicate, and the reason. */
  status: string;
  reason: string | null;
  descriptor: Float32Array | null;
}

/** Every face of a curated workspace by (image sha256, rank in image). */
function faceDecisions(wsRoot: string): Map<string, FaceDecision> {
  const ws = openWorkspace(wsRoot);
  try {
    const rows = ws.db
      .prepare<[], { sha: string; idx: number; status: string; reason: string | null; row: number | null }>('SELECT image_sha256 AS sha, idx, status, reason, descriptor_row AS row FROM faces')
      .all();
    const vectors = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
    const out = new Map<string, FaceDecision>();
    for (const r of rows) {
      out.set(`${r.sha}#${r.idx}`, { status: r.status, reason: r.reason, descriptor: r.row === null ? null : vectors.read(r.row) });
    }
    return out;
  } finally {
    ws.close();
  }
}

/**
 * Decisions of the default path against the reference path. "Passed policy" (accepted or duplicate) is what the
 * analysis decides; which of two near-duplicates is kept depends on arrival order, which varies between runs.
 */
function compareDecisions(fast: Map<string, FaceDecision>, ref: Map<string, FaceDecision>) {
  const passed = (d?: FaceDecision) => d !== undefined && d.status !== 'rejected';
  const keys = new Set([...fast.keys(), ...ref.keys()]);
  let decisionDiffs = 0, acceptedDiffs = 0, maxDescriptorDiff = 0, describedBoth = 0;
  for (const k of keys) {
    const a = fast.get(k), b = ref.get(k);
    if (passed(a) !== passed(b) || (a?.status === 'rejected' && a.reason !== b?.reason)) decisionDiffs++;
    if ((a?.status === 'accepted') !== (b?.status === 'accepted')) acceptedDiffs++;
    if (a?.descriptor && b?.descriptor) {
      describedBoth++;
      for (let i = 0; i < a.descriptor.length; i++) maxDescriptorDiff = Math.max(maxDescriptorDiff, Math.abs(a.descriptor[i]! - b.descriptor[i]!));
    }
  }
  return { faces: keys.size, decisionDiffs, acceptedDiffs, describedBoth, maxDescriptorDiff };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'pros-bench-curate-'));
  const corpusDir = join(root, 'corpus');
  process.stderr.write(`building a ${n}-image corpus in ${corpusDir}\n`);
  const names = await buildMixedCorpus(corpusDir, n);
  const server = await serveCorpus({ dir: corpusDir, files: names.map((name) => ({ name, kind: 'photo', via: 'list' })) });
  const urls = names.map((name) => `${server.origin}/images/${name}`);
  // The corpus is on loopback: the fetcher's private-address policy is opted out of, as the demo does.
  const config: ProsConfig = {
    ...defaults,
    workspace: join(root, 'ws'),
    fetch: { ...defaults.fetch, allowPrivate: true },
    faces: { ...defaults.faces, workers: arg('workers', defaults.faces.workers) },
  };

  // Bare: fetch + decode + resize to the analysis size, same concurrency, nothing else.
  const fetcher = new Fetcher(config.fetch);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: config.fetch.concurrency }, async () => {
      while (next < urls.length) {
        const u = urls[next++];
        const r = await fetcher.fetch(u);
        if (r.ok) await decodeImage(r.bytes, config.decode);
      }
    }),
  );
  const bareSec = (performance.now() - t0) / 1000;
  fetcher.close();

  // End to end: the real pipeline into a fresh workspace (model loading included, as a user would see it).
  const list = join(root, 'urls.txt');
  writeFileSync(list, urls.join('\n') + '\n');
  const ws = openWorkspace(config.workspace);
  const t1 = performance.now();
  const profile = profiling ? new StageProfile() : undefined;
  const summary = await curate({ ws, config, sources: [list], set: 'bench', quiet: true, profile });
  const e2eSec = (performance.now() - t1) / 1000;
  ws.close();

  // The reference path on the same corpus, into its own workspace.
  const compare = !process.argv.includes('--no-compare');
  let refSec = 0;
  let refProfile: StageProfile | undefined;
  let diff: ReturnType<typeof compareDecisions> | undefined;
  if (compare) {
    const refConfig: ProsConfig = { ...config, workspace: join(root, 'ws-ref') };
    const refWs = openWorkspace(refConfig.workspace);
    refProfile = profiling ? new StageProfile() : undefined;
    const t2 = performance.now();
    await curate({ ws: refWs, config: refConfig, sources: [list], set: 'bench', quiet: true, profile: refProfile, referenceFaces: true });
    refSec = (performance.now() - t2) / 1000;
    refWs.close();
    diff = compareDecisions(faceDecisions(config.workspace), faceDecisions(refConfig.workspace));
  }
  await server.close();
  // What the default path's workers really ran (backend, graphs, which convolution kernels passed their self-test).
  const probe = await FacePool.start({ ...config, faces: { ...config.faces, workers: 1 } }, { announce: false });
  const faceRuntime = probe.runtime;
  await probe.close();

  const bare = n / bareSec;
  const e2e = n / e2eSec;
  const rows = [
    ['date', new Date().toISOString().slice(0, 10)],
    ['machine', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
    ['images', String(n)],
    ['bare fetch+decode+resize', `${bare.toFixed(1)} img/s (${bareSec.toFixed(1)} s)`],
    ['pros curate end to end', `${e2e.toFixed(1)} img/s (${e2eSec.toFixed(1)} s)`],
    ['ratio (target ≥ 0.2)', (e2e / bare).toFixed(3)],
    ...(diff
      ? [
          ['reference path (stock wasm)', `${(n / refSec).toFixed(1)} img/s (${refSec.toFixed(1)} s), ratio ${(n / refSec / bare).toFixed(3)}`],
          ['decisions ≠ reference', `${diff.decisionDiffs} of ${diff.faces} faces (accepted-set diff ${diff.acceptedDiffs})`],
          ['descriptors max |Δ|', `${diff.maxDescriptorDiff} over ${diff.describedBoth} faces`],
        ]
      : []),
    ['accepted faces', String(summary.faces.accepted)],
    ['near-duplicates', String(summary.faces.nearDuplicates)],
    ['face workers', String(config.faces.workers)],
    ['face runtime', faceRuntime],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(28)} ${v}`);
  if (profile) {
    console.log(`\nprofile of the end-to-end run (${n} images; main-thread stages are wall time of overlapped work,`);
    console.log('worker stages are time on a worker thread; ms per image = total / images):\n');
    console.log(profile.table(n));
    if (refProfile) {
      console.log('\nprofile of the reference path (stock graphs on wasm):\n');
      console.log(refProfile.table(n));
    }
  }
  if (!process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
}

await main();
