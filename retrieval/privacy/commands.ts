// `pros forget`, `pros optout add|list|remove` and `pros runs [--affected]`: privacy and provenance from the
// command line (the web UI calls the same functions).
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { floatArg, openContext, run, withCommonOptions, type CommonOptions } from '../../src/command.ts';
import { InputError } from '../../src/errors.ts';
import { affectedRuns, lineageOf, type Lineage } from '../../src/lineage.ts';
import { describeImage } from '../search.ts';
import { FaceIndex } from '../face-index.ts';
import { forget, type ForgetResult } from './forget.ts';
import { addOptOut, listOptOuts, removeOptOut, OPTOUT_KINDS, type OptOut, type OptOutKind } from './optout.ts';
import type { RunRow } from '../../src/contracts/rows.ts';


const collect = (v: string, prev: string[]) => [...prev, v];

function faceId(v: string): number {
  if (!/^[1-9]\d*$/.test(v)) throw new InputError(`--face ${v}: not a face id`);
  return Number(v);
}

interface ForgetFlags extends CommonOptions {
  image: string[];
  face: string[];
  url: string[];
  domain: string[];
  set?: string;
  threshold?: number;
  dryRun?: boolean;
  who?: string;
}

export function formatForget(r: ForgetResult): string {
  const c = r.counts;
  const runs = r.runs.length ? r.runs.map((x) => `${x.run} (${x.faces} face${x.faces === 1 ? '' : 's'})`).join(', ') : 'none';
  const lines: string[] = [];
  if (r.finishedEarlier.length) lines.push(`finished interrupted forget request(s) #${r.finishedEarlier.join(', #')} first`);
  if (r.dryRun) {
    lines.push(`dry run: would forget ${c.faces} faces (${c.images} images whole, ${c.imagesKept} keep other faces), ${c.files} files, ${c.descriptors} descriptor rows, ${c.embeddings} run embeddings`);
    for (const f of r.faces) {
      lines.push(`  face ${String(f.faceId).padEnd(7)} ${f.similarity === null ? '  –  ' : f.similarity.toFixed(3)}  ${f.status.padEnd(10)} thumb ${f.thumb}  ${f.origin}`);
    }
  } else {
    const q = r.request!;
    lines.push(
      `forget request #${q.id}${r.resumed ? ' (resumed after an interruption)' : ''}: ${c.faces} faces, ${c.images} images and ${c.files} files removed` +
        `${c.imagesKept ? ` (${c.imagesKept} images kept for other faces)` : ''}; ${c.descriptors} descriptor rows and ${c.embeddings} run embeddings overwritten; ${c.optouts} opt-out entr${c.optouts === 1 ? 'y' : 'ies'} added`,
    );
  }
  lines.push(`runs that trained on ${r.dryRun ? 'these faces' : 'the forgotten faces'} (a checkpoint cannot forget; retrain): ${runs}`);
  return lines.join('\n');
}

function formatOptOut(o: OptOut): string {
  return `${String(o.id).padStart(4)}  ${o.kind.padEnd(6)} ${o.value ?? '(descriptor)'}${o.requestId ? `  (forget #${o.requestId})` : ''}${o.note ? `  ${o.note}` : ''}  ${o.addedAt}`;
}

function formatLineage(l: Lineage & { status?: string }): string {
  const v = l.versions.map((x) => `${x.manifestSha256.slice(0, 12)} (${x.faces} faces, from step ${x.step})`).join(', ') || 'no recorded set version';
  const a = l.affected.length ? `  AFFECTED by forget #${l.affected.map((x) => `${x.requestId} (${x.faces} faces)`).join(', #')}: retrain to forget` : '';
  return `${l.run.padEnd(20)} ${(l.status ?? '').padEnd(8)} set ${v}${a}`;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('forget')
      .description('Remove a person (by example), the images of URLs or domains, or a set from every place a face lives, and keep them out of later crawls')
      .option('--image <file>', 'an example photo of the person (repeatable); its largest face is the example', collect, [])
      .option('--face <id>', 'an example face id (repeatable)', collect, [])
      .option('--url <url>', 'every face of the image met at this URL or file path (repeatable)', collect, [])
      .option('--domain <name>', 'every face of the images met on this domain and its subdomains (repeatable)', collect, [])
      .option('--set <name>', 'every member of this set')
      .option('--threshold <cos>', 'same-person descriptor similarity for examples (default: config privacy.samePerson)', floatArg(0, 1))
      .option('--dry-run', 'list the faces that would go, with similarities and thumbnail ids; change nothing')
      .option('--who <name>', 'who asked, for the audit log (default: your user name)'),
  ).action(async (o: ForgetFlags) => {
    await run(o, async () => {
      const ctx = openContext(o);
      try {
        return await forget(ctx.ws, ctx.config, {
          images: o.image, faces: o.face.map(faceId), urls: o.url, domains: o.domain, set: o.set, threshold: o.threshold,
        }, { dryRun: o.dryRun, who: o.who ?? userInfo().username });
      } finally {
        ctx.ws.close();
      }
    }, formatForget);
  });

  const optout = program.command('optout').description('The opt-out registry honoured by every crawl: domains, URL prefixes, URLs and example faces');
  withCommonOptions(
    optout
      .command('add')
      .description('add an entry: `domain example.org`, `prefix https://x.org/people/`, `url https://…/a.jpg`, `face photo.jpg` or `face 123` (a face id)')
      .argument('<kind>', OPTOUT_KINDS.join(' | '))
      .argument('<value>', 'the domain, prefix, URL, or for a face an image file or face id')
      .option('--note <text>', 'why, for the record'),
  ).action(async (kind: string, value: string, o: CommonOptions & { note?: string }) => {
    await run(o, async () => {
      if (!(OPTOUT_KINDS as string[]).includes(kind)) throw new InputError(`optout kind must be one of ${OPTOUT_KINDS.join(', ')}, got "${kind}"`);
      const ctx = openContext(o);
      try {
        if (kind !== 'face') return addOptOut(ctx.ws, kind as OptOutKind, value, { note: o.note });
        let d: Float32Array | undefined;
        if (/^\d+$/.test(value) && !existsSync(value)) {
          const index = await FaceIndex.open(ctx.ws, ctx.config);
          d = index.descriptor(Number(value));
          index.vectors.close();
          if (!d) throw new InputError(`face ${value} is not in the workspace or has no descriptor`);
        } else {
          if (!existsSync(value)) throw new InputError(`${value}: no such file, and not a face id`);
          const faces = await describeImage(ctx.config, readFileSync(value));
          if (!faces.length) throw new InputError(`${value}: no face with a descriptor found in it`);
          d = faces[0]!.descriptor!;
        }
        return addOptOut(ctx.ws, 'face', d, { note: o.note });
      } finally {
        ctx.ws.close();
      }
    }, (e) => `added opt-out ${e.id}: ${formatOptOut(e).trim()}`);
  });
  withCommonOptions(optout.command('list').description('list the entries')).action(async (o: CommonOptions) => {
    await run(o, async () => {
      const ctx = openContext(o);
      try {
        return listOptOuts(ctx.ws.db);
      } finally {
        ctx.ws.close();
      }
    }, (list) => list.map(formatOptOut).join('\n') || '(no opt-outs)');
  });
  withCommonOptions(optout.command('remove').description('remove an entry (a face entry\'s descriptor is overwritten)').argument('<id>')).action(async (id: string, o: CommonOptions) => {
    await run(o, async () => {
      if (!/^\d+$/.test(id)) throw new InputError(`"${id}" is not an opt-out id`);
      const ctx = openContext(o);
      try {
        return removeOptOut(ctx.ws, Number(id));
      } finally {
        ctx.ws.close();
      }
    }, (e) => `removed opt-out ${e.id} (${e.kind} ${e.value ?? 'descriptor'})`);
  });

  withCommonOptions(
    program
      .command('runs')
      .description('Training runs with the set version each read (manifest hash, faces) and the forget requests that affect them')
      .option('--affected', 'only runs that trained on a face since forgotten (retrain them)'),
  ).action(async (o: CommonOptions & { affected?: boolean }) => {
    await run(o, async () => {
      const ctx = openContext(o);
      try {
        const runs = ctx.ws.db.prepare<[], Pick<RunRow, 'name' | 'status'>>('SELECT name, status FROM runs ORDER BY created_at, name').all();
        const affected = new Set(affectedRuns(ctx.ws.db).map((a) => a.run));
        // Lineage can name a run whose runs row is gone (or never written, by a test): list those too.
        const names = [...new Set([...runs.map((r) => r.name), ...affected])];
        const status = new Map(runs.map((r) => [r.name, r.status]));
        return names
          .filter((n) => !o.affected || affected.has(n))
          .map((n) => ({ ...lineageOf(ctx.ws.db, n), status: status.get(n) ?? 'unknown' }));
      } finally {
        ctx.ws.close();
      }
    }, (list) => list.map(formatLineage).join('\n') || (o.affected ? '(no run trained on a forgotten face)' : '(no runs)'));
  });
}
