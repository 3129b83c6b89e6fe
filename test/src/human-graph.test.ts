import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseClipToRelu6, scalarWeights, type ModelJson } from '../../src/human-graph.ts';
import { createRequire } from 'node:module';
import { chooseHumanRuntime, humanDir, humanRuntimes } from '../../src/human.ts';
import type { Tensor, io } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';

const models = join(humanDir, 'models');
const faceresJson = () => JSON.parse(readFileSync(join(models, 'faceres.json'), 'utf8')) as ModelJson;
const faceresBin = () => readFileSync(join(models, 'faceres.bin'));
const opsOf = (m: ModelJson) => m.modelTopology.node.map((n) => n.op);

function faceresValues(m: ModelJson) {
  const consts = new Set(m.modelTopology.node.filter((n) => n.op === 'Const').map((n) => n.name));
  const values = scalarWeights(m, faceresBin(), consts);
  if (!values) throw new Error('faceres weights unreadable');
  return values;
}

test("faceres: its 27 clip_by_value(Relu) chains become Relu6, bounds read from the float16 weights", (t) => {
  const stock = faceresJson();
  const values = faceresValues(stock);
  t.is(values.get('conv1_relu/Cast'), 6);
  t.is(values.get('conv1_relu/Const_1'), 0);
  const { model, fused } = fuseClipToRelu6(stock, (n) => values.get(n));
  t.is(fused.length, 27);
  t.is(opsOf(model).filter((o) => o === 'Relu6').length, 27);
  // The bypassed chains are gone, not left as dead outputs: only the Relu6 stand in for them.
  t.false(opsOf(model).some((o) => o === 'Minimum' || o === 'Maximum' || o === 'Relu'));
  // Per chain: Relu, Minimum and both bound constants go; the Maximum stays, as Relu6.
  t.is(model.modelTopology.node.length, stock.modelTopology.node.length - 4 * 27);
});

test('a chain is left alone when a bound is not 6 and 0, or when the Relu feeds something else', (t) => {
  const node = (name: string, op: string, ...input: string[]) => ({ name, op, input });
  const graph = (extra: ReturnType<typeof node>[] = []): ModelJson => ({
    modelTopology: {
      node: [
        node('x', 'Placeholder'), node('six', 'Const'), node('zero', 'Const'), node('five', 'Const'),
        node('r', 'Relu', 'x'), node('mn', 'Minimum', 'r', 'six'), node('mx', 'Maximum', 'mn', 'zero'),
        node('r2', 'Relu', 'x'), node('mn2', 'Minimum', 'r2', 'five'), node('mx2', 'Maximum', 'mn2', 'zero'),
        ...extra,
      ],
    },
    weightsManifest: [],
  });
  const value = (n: string) => ({ six: 6, zero: 0, five: 5 })[n];
  t.deepEqual(fuseClipToRelu6(graph(), value).fused, ['mx']);
  t.deepEqual(fuseClipToRelu6(graph([node('y', 'Add', 'r', 'x')]), value).fused, []);
  t.deepEqual(fuseClipToRelu6(graph(), () => undefined).fused, []);
});

test('the fused faceres gives bit-identical outputs to the stock graph on wasm, clip active or not', async (t) => {
  const { tf } = await loadBackend('wasm', { quiet: true });
  const stock = faceresJson();
  const values = faceresValues(stock);
  const fused = fuseClipToRelu6(stock, (n) => values.get(n)).model;
  const bin = faceresBin();
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const load = (m: ModelJson) =>
    tf.loadGraphModel(
      tf.io.fromMemory({
        // No signature: every leaf of the graph is an output, so a dead node left behind would show here.
        modelTopology: m.modelTopology,
        weightSpecs: (m.weightsManifest as { weights: io.WeightsManifestEntry[] }[]).flatMap((g) => g.weights),
        weightData,
      }),
    );
  const [a, b] = await Promise.all([load(stock), load(fused)]);
  // [0, 1] is human's input range; ±20 drives activations past 6, where the clip acts.
  for (const [lo, hi] of [[0, 1], [-20, 20]]) {
    const x = tf.randomUniform([1, 224, 224, 3], lo, hi, 'float32', 7);
    const ya = a.execute(x) as Tensor[];
    const yb = b.execute(x) as Tensor[];
    t.is(ya.length, yb.length);
    for (let i = 0; i < ya.length; i++) t.deepEqual(ya[i]!.dataSync(), yb[i]!.dataSync(), `output ${i}, input in [${lo}, ${hi}]`);
    tf.dispose([x, ...ya, ...yb]);
  }
});

test('face analysis follows the backend order: tfjs-node where it resolves, else wasm, saying why', (t) => {
  const resolves = (pkg: string) => {
    try {
      createRequire(import.meta.url).resolve(pkg);
      return true;
    } catch {
      return false;
    }
  };
  const auto = chooseHumanRuntime({ backend: 'auto' });
  // wasm is always the last resort, after every installed native build.
  const all = humanRuntimes({ backend: 'auto' });
  t.is(all.at(-1)!.backend, 'wasm');
  t.is(all.length, 1 + Number(resolves('@tensorflow/tfjs-node')) + Number(resolves('@tensorflow/tfjs-node-gpu')));
  if (resolves('@tensorflow/tfjs-node') || resolves('@tensorflow/tfjs-node-gpu')) {
    t.is(auto.backend, 'tensorflow');
    t.regex(auto.dist, /human\.node(-gpu)?\.js$/);
  } else {
    t.is(auto.backend, 'wasm');
    t.true(auto.fusedDescriptor);
    t.regex(auto.description, /@tensorflow\/tfjs-node not installed/);
    t.throws(() => chooseHumanRuntime({ backend: 'tensorflow' }), { message: /install @tensorflow\/tfjs-node/ });
  }
  const ref = chooseHumanRuntime({ backend: 'auto', reference: true });
  t.is(ref.backend, 'wasm');
  t.false(ref.fusedDescriptor);
});
