// tfjs has one global backend; loads asked for at the same time must not race each other.
import test from 'ava';
import { createRequire } from 'node:module';
import { loadBackend } from '../../src/backend.ts';

const hasTfjsNode = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

test('two loads of the wasm backend at once both succeed (taken in turn, not racing in setBackend)', async (t) => {
  const [a, b] = await Promise.all([loadBackend('wasm', { quiet: true }), loadBackend('wasm', { quiet: true })]);
  t.is(a.name, 'wasm');
  t.is(b.name, 'wasm');
  t.is(a.tf.getBackend(), 'wasm');
});

(hasTfjsNode ? test.skip : test)('a load that fails (tfjs-node absent, as on this machine) does not block the next one', async (t) => {
  await t.throwsAsync(loadBackend('tensorflow', { quiet: true }), { message: /not available \(install @tensorflow\/tfjs-node\)/ });
  t.is((await loadBackend('wasm', { quiet: true })).name, 'wasm');
});
