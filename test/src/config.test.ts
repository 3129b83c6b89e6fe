import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaults, deepMerge, loadConfig } from '../../src/config.ts';

test('flags override the file, the file overrides the defaults', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ fetch: { perHost: 1, retries: 5 }, policy: { minFaceRatio: 0.3 } }));
  const c = loadConfig(file, { fetch: { retries: 0 } });
  t.is(c.fetch.perHost, 1);
  t.is(c.fetch.retries, 0);
  t.is(c.policy.minFaceRatio, 0.3);
  t.is(c.policy.minScore, defaults.policy.minScore);
  t.is(defaults.fetch.retries, 2, 'defaults are not mutated');
});

test('an unknown key or a wrong type is an error naming its path', (t) => {
  t.throws(() => deepMerge(defaults, { fetch: { perhost: 2 } }), { instanceOf: ConfigError, message: /fetch\.perhost/ });
  t.throws(() => deepMerge(defaults, { policy: { minScore: 'high' } }), { instanceOf: ConfigError, message: /policy\.minScore/ });
});

test('a config file that is not JSON gives a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-config-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{ nope');
  t.throws(() => loadConfig(file), { instanceOf: ConfigError, message: /bad\.json: not valid JSON/ });
  t.throws(() => loadConfig(join(dir, 'missing.json')), { instanceOf: ConfigError, message: /missing\.json/ });
});

test('__proto__, constructor and prototype in a config file are unknown keys, and reach no prototype', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-config-'));
  for (const [name, text] of [
    ['proto', '{"__proto__": {}}'],
    ['proto-deep', '{"fetch": {"__proto__": {"polluted": true}}}'],
    ['constructor', '{"constructor": {"prototype": {"polluted": true}}}'],
    ['prototype', '{"policy": {"prototype": 1}}'],
    ['tostring', '{"toString": "x"}'],
  ] as const) {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, text);
    const key = Object.keys(JSON.parse(text))[0]!;
    t.throws(() => loadConfig(file), { instanceOf: ConfigError, message: new RegExp(`unknown key "${key}`) }, name);
  }
  t.is(({} as Record<string, unknown>).polluted, undefined);
  // Flags go through the same merge.
  t.throws(() => loadConfig(undefined, JSON.parse('{"__proto__": {"retries": 1}}')), { instanceOf: ConfigError });
  t.is(Object.getPrototypeOf(loadConfig()), Object.prototype);
});

test('the train and eval sections are part of the tree: checked at load, eval filled from the defaults', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ train: { preset: 'small', vit: { dropPath: 0.2 } }, eval: { linear: { epochs: 5 } } }));
  const c = loadConfig(file);
  t.deepEqual(c.train, { preset: 'small', vit: { dropPath: 0.2 } });
  t.is(c.eval.linear.epochs, 5);
  t.is(c.eval.linear.lr, defaults.eval.linear.lr);
  t.is(c.eval.finetune.epochs, 8);
  for (const [text, path] of [
    [{ train: { vit: { widht: 1 } } }, /unknown key "train\.vit\.widht"/],
    [{ train: { optim: { baseLr: 'fast' } } }, /train\.optim\.baseLr: /],
    [{ train: { proto: { target: 'greedy' } } }, /train\.proto\.target: .*sharpen.*sinkhorn/],
    [{ eval: { seeds: { full: 0 } } }, /eval\.seeds\.full: /],
    [{ eval: { probe: {} } }, /unknown key "eval\.probe"/],
  ] as const) {
    writeFileSync(file, JSON.stringify(text));
    t.throws(() => loadConfig(file), { instanceOf: ConfigError, message: path }, JSON.stringify(text));
  }
});
