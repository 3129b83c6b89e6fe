// The workspace: one folder with the SQLite database (WAL), the descriptor files and ANN indexes, curated sets and
// training runs. Every part opens it through here so paths and the schema have a single home.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { migrations } from './schema.ts';

export type DB = Database.Database;

export interface Workspace {
  root: string;
  db: DB;
  paths: {
    db: string;
    index: string;
    images: string;
    curated: string;
    runs: string;
    thumbs: string;
  };
  close(): void;
}

export function workspacePaths(root: string) {
  const abs = resolve(root);
  return {
    db: join(abs, 'pros.db'),
    index: join(abs, 'index'),
    images: join(abs, 'images'),
    curated: join(abs, 'curated'),
    runs: join(abs, 'runs'),
    thumbs: join(abs, 'thumbs'),
  };
}

export function openDatabase(file: string): DB {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL under WAL is durable against process crashes (kill -9); only power loss can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

export function migrate(db: DB): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`workspace schema version ${current} is newer than this pros (${migrations.length}); upgrade pros`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}

export function openWorkspace(root: string): Workspace {
  const paths = workspacePaths(root);
  for (const dir of [resolve(root), paths.index, paths.images, paths.curated, paths.runs, paths.thumbs]) {
    mkdirSync(dir, { recursive: true });
  }
  const db = openDatabase(paths.db);
  return {
    root: resolve(root),
    db,
    paths,
    close: () => db.close(),
  };
}
