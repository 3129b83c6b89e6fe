// DATASHEET.md beside a set's manifest.jsonl: how the set was built (sources, dates, policy thresholds), counts by
// outcome and reason, licences seen, opt-outs honoured, forget requests applied, and what it cannot promise. Read
// back from the workspace, so `pros export` and `pros forget` write the same sheet.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION, type ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import type { ForgetRequestRow, SetRow, SourceRow } from '../../src/contracts/rows.ts';

const table = (head: string[], rows: Array<Array<string | number>>) =>
  rows.length
    ? [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`)].join('\n')
    : '(none)';

export function datasheet(ws: Workspace, config: ProsConfig, set: string, faces: number): string {
  const { db } = ws;
  const q = <T>(sql: string, ...args: unknown[]) => db.prepare<unknown[], T>(sql).all(...args);
  const one = <T>(sql: string, ...args: unknown[]) => db.prepare<unknown[], T>(sql).get(...args);
  const meta = one<Pick<SetRow, 'kind' | 'created_at'>>('SELECT kind, created_at FROM sets WHERE name = ?', set);
  const sources = q<Pick<SourceRow, 'kind' | 'uri' | 'added_at'>>('SELECT kind, uri, added_at FROM sources ORDER BY id');
  const items = q<{ status: string; reason: string | null; n: number }>(
    "SELECT status, reason, count(*) AS n FROM items WHERE kind = 'image' GROUP BY status, reason ORDER BY status, n DESC",
  );
  const faceOutcomes = q<{ status: string; reason: string | null; n: number }>('SELECT status, reason, count(*) AS n FROM faces GROUP BY status, reason ORDER BY status, n DESC');
  const licences = q<{ licence: string | null; n: number }>(
    `SELECT i.licence, count(DISTINCT i.sha256) AS n FROM set_members m JOIN faces f ON f.id = m.face_id JOIN images i ON i.sha256 = f.image_sha256
     WHERE m.set_name = ? AND f.status = 'accepted' GROUP BY i.licence ORDER BY n DESC`,
    set,
  );
  const optedOut = one<{ n: number }>("SELECT count(*) AS n FROM items WHERE status = 'skipped' AND reason = 'opted_out'")!.n;
  const optouts = q<{ kind: string; n: number }>('SELECT kind, count(*) AS n FROM optouts GROUP BY kind ORDER BY kind');
  const forgets = q<Pick<ForgetRequestRow, 'id' | 'created_at' | 'step' | 'counts'>>('SELECT id, created_at, step, counts FROM forget_requests ORDER BY id');
  const dates = one<{ first: string | null; last: string | null }>("SELECT min(updated_at) AS first, max(updated_at) AS last FROM items WHERE kind = 'image'")!;
  const p = config.policy;
  return [
    `# Datasheet: set \`${set}\``,
    '',
    `Written by pros ${VERSION} on ${new Date().toISOString()} from the workspace's records. ${faces} faces in manifest.jsonl.`,
    '',
    '## How it was built',
    `- Set kind: ${meta?.kind ?? 'unknown'}, created ${meta?.created_at ?? 'unknown'}; items fetched ${dates.first ?? '–'} to ${dates.last ?? '–'}.`,
    `- Curation policy: one predominant face (max ${p.maxFaces} face(s) scoring ≥ ${p.minScore}), face box ≥ ${p.minFaceSize} px and ≥ ${p.minFaceRatio} of the image,`,
    `  |yaw| ≤ ${p.maxYaw}°, |pitch| ≤ ${p.maxPitch}°, |roll| ≤ ${p.maxRoll}°, sharpness ≥ ${p.minSharpness}.`,
    `- Near-duplicates: descriptor cosine ≥ ${config.dedup.nearThreshold} confirmed by a crop dHash within ${config.dedup.maxHashDistance} bits; the better copy is kept.`,
    `- Crops: ${config.export.size} px, side ${config.export.scale}× the face box, jitter ${config.export.jitter}.`,
    `- Fetching honours robots.txt (${config.fetch.respectRobots ? 'on' : 'off'}) and X-Robots-Tag / meta noai (${config.fetch.respectNoAI ? 'on' : 'off'}).`,
    '',
    '## Sources',
    table(['kind', 'source', 'added'], sources.map((s) => [s.kind, s.uri, s.added_at])),
    '',
    '## Outcomes',
    'Items (URLs and files met):',
    '',
    table(['status', 'reason', 'count'], items.map((r) => [r.status, r.reason ?? '', r.n])),
    '',
    'Faces detected:',
    '',
    table(['status', 'reason', 'count'], faceOutcomes.map((r) => [r.status, r.reason ?? '', r.n])),
    '',
    '## Licences seen (images in this set)',
    table(['licence', 'images'], licences.map((l) => [l.licence ?? 'unknown', l.n])),
    '',
    '## Privacy',
    `- Opt-outs honoured: ${optedOut} item(s) skipped as \`opted_out\`; registry: ${optouts.map((o) => `${o.n} ${o.kind}`).join(', ') || 'empty'}.`,
    `- Forget requests applied: ${forgets.length}${forgets.length ? ` (${forgets.map((f) => `#${f.id} ${f.created_at}${f.step === 'done' ? '' : `, in progress at ${f.step}`}`).join('; ')})` : ''}.`,
    '',
    '## Known limits',
    '- Faces are found and kept by automatic detection; a person is matched by descriptor similarity, which can miss',
    `  photos of the same person (the same-person threshold is ${config.privacy.samePerson}) and can confuse look-alikes.`,
    '- Faces stopped before the descriptor stage (crowds, tiny or blurred faces) cannot be matched by example.',
    '- Licences are what the sources declared; most crawled images declare none.',
    '- Models trained on an earlier version of this set are not changed by a later forget: see `pros runs --affected`.',
    '',
  ].join('\n');
}

export function writeDatasheet(ws: Workspace, config: ProsConfig, set: string, dir: string, faces: number): string {
  const file = join(dir, 'DATASHEET.md');
  writeFileSync(`${file}.tmp`, datasheet(ws, config, set, faces));
  renameSync(`${file}.tmp`, file);
  return file;
}
