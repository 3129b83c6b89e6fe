import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_VARS, envChoice, envInt } from '../../src/env.ts';
import { InputError } from '../../src/errors.ts';
import { pros } from '../helpers/cli.ts';

test.serial('an enumerated or numeric PROS_* variable with a value it cannot take is an InputError naming the choices', (t) => {
  const saved = { ...process.env };
  try {
    process.env.PROS_X = 'loud';
    t.throws(() => envChoice('PROS_X', ['on', 'off'], 'on'), { instanceOf: InputError, message: 'PROS_X must be one of on, off, got "loud"' });
    process.env.PROS_X = '';
    t.is(envChoice('PROS_X', ['on', 'off'], 'off'), 'off');
    process.env.PROS_X = '1.5';
    t.throws(() => envInt('PROS_X', 1), { instanceOf: InputError, message: /PROS_X must be an integer ≥ 1/ });
    process.env.PROS_X = '3';
    t.is(envInt('PROS_X', 1), 3);
  } finally {
    process.env = saved;
  }
});

test('the CLI refuses a bad PROS_* value before any command runs: one line, exit 2', async (t) => {
  const ws = join(mkdtempSync(join(tmpdir(), 'pros-env-')), 'ws');
  for (const [name, value, allowed] of [
    ['PROS_LOG', 'loud', /debug, info, warn, error/],
    ['PROS_MATMUL', 'nativ', /auto, native, explicit, stock/],
    ['PROS_PROGRESS', 'no', /on, off/],
    ['PROS_BLAS_THREADS', 'many', /integer ≥ 1/],
  ] as const) {
    const r = await pros(['report', '-w', ws], { [name]: value });
    t.is(r.code, 2, `${name}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`${name} must be`));
    t.regex(r.stderr, allowed);
  }
  const ok = await pros(['report', '-w', ws], { PROS_LOG: 'warn', PROS_MATMUL: 'stock' });
  t.is(ok.code, 0, ok.stderr);
});

test('every PROS_* variable read in the sources is in the table, and the README documents each', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const used = new Set(
    execFileSync('git', ['grep', '-ohE', 'process\\.env\\.PROS_[A-Z_]+|PROS_[A-Z_]+ ===|env\\w*\\(.PROS_[A-Z_]+', '--', 'src', 'retrieval', 'training', 'web', 'app', 'native/build.mjs'], { encoding: 'utf8' })
      .match(/PROS_[A-Z_]+/g),
  );
  const table = new Set(ENV_VARS.map((v) => v.name));
  for (const name of used) t.true(table.has(name), `${name} is read but not in src/env.ts`);
  const readme = readFileSync('README.md', 'utf8');
  for (const name of table) t.regex(readme, new RegExp(`\\| \`${name}\` \\|`), `${name} in the README table`);
});
