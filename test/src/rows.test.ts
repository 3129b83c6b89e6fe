// The row types of src/contracts/rows.ts against the database the migrations make: same tables, same columns, the
// same nullability and storage class, so a migration that adds or renames a column fails here until its row type
// follows.
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkspace } from '../../src/workspace.ts';
import { z } from 'zod';
import { tables } from '../../src/contracts/rows.ts';

interface Column { name: string; type: string; notnull: number; pk: number; dflt_value: string | null }

test('every table has one row type with its columns, nullability and storage class', (t) => {
  const ws = openWorkspace(mkdtempSync(join(tmpdir(), 'pros-rows-')));
  t.teardown(() => ws.close());
  const names = ws.db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  t.deepEqual(names, Object.keys(tables).sort());
  for (const [table, schema] of Object.entries(tables)) {
    const columns = ws.db.prepare<[], Column>(`SELECT * FROM pragma_table_info('${table}')`).all();
    t.deepEqual(Object.keys(schema.shape).sort(), columns.map((c) => c.name).sort(), table);
    for (const c of columns) {
      const field = (schema.shape as Record<string, z.ZodType>)[c.name];
      const where = `${table}.${c.name}`;
      // An INTEGER PRIMARY KEY is the rowid: never null although table_info says notnull 0.
      t.is(field.safeParse(null).success, !c.notnull && !c.pk, `${where} nullability`);
      // An enumerated column (a status, a kind) takes its first value; any other text column takes any text.
      const sample = field instanceof z.ZodEnum ? String(field.options[0]) : 'any text';
      if (c.type === 'TEXT') t.true(field.safeParse(sample).success && !field.safeParse(3).success, `${where} is text`);
      if (c.type === 'TEXT' && c.dflt_value?.startsWith("'")) t.true(field.safeParse(c.dflt_value.slice(1, -1)).success, `${where} takes its default`);
      if (c.type === 'INTEGER') t.true(field.safeParse(3).success && !field.safeParse('3').success, `${where} is an integer`);
      if (c.type === 'REAL') t.true(field.safeParse(0.5).success, `${where} is a real`);
    }
  }
});
