import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkspace } from '../../src/workspace.ts';
import { migrations } from '../../src/schema.ts';

test('a new workspace is migrated to the latest schema in WAL mode, and reopening is a no-op', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-ws-'));
  const ws = openWorkspace(root);
  t.is(ws.db.pragma('user_version', { simple: true }), migrations.length);
  t.is(ws.db.pragma('journal_mode', { simple: true }), 'wal');
  ws.db.prepare("INSERT INTO sources(kind, uri) VALUES ('folder', '/x')").run();
  ws.close();
  const again = openWorkspace(root);
  t.is(again.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sources').get()!.n, 1);
  again.close();
});
