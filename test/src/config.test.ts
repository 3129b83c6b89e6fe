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
