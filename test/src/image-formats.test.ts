import test from 'ava';
import sharp from 'sharp';
import { hasImageExtension, IMAGE_FORMATS, IMAGE_LINK_EXT, isDecodable, storedExtension } from '../../src/image-formats.ts';
import { sniffFormat } from '../../retrieval/decode.ts';

test('every format sharp writes is sniffed as a decodable format of the one list, with its stored extension', async (t) => {
  const img = sharp({ create: { width: 8, height: 8, channels: 3, background: '#884422' } });
  for (const [fmt, want] of [['jpeg', 'jpeg'], ['png', 'png'], ['webp', 'webp'], ['gif', 'gif'], ['avif', 'avif'], ['tiff', 'tiff']] as const) {
    const bytes = await img.clone().toFormat(fmt).toBuffer();
    const sniffed = sniffFormat(bytes);
    t.is(sniffed, want, fmt);
    t.true(isDecodable(sniffed), fmt);
    t.true(hasImageExtension(`x.${storedExtension(sniffed!)}`), fmt);
  }
  t.is(storedExtension('heif'), 'heic');
  t.is(storedExtension('bmp'), 'bin');
  t.false(isDecodable('bmp'));
  t.false(isDecodable('toString'));
  t.true(hasImageExtension('A/B.JPEG'));
  t.false(hasImageExtension('notes.txt'));
  for (const f of Object.values(IMAGE_FORMATS)) for (const e of f.extensions) t.true(IMAGE_LINK_EXT.test(`/p/a${e.toUpperCase()}`), e);
  t.true(IMAGE_LINK_EXT.test('/a.bmp'), 'bmp links are fetched, then refused as unsupported_format');
  t.false(IMAGE_LINK_EXT.test('/a.svg'));
  t.false(IMAGE_LINK_EXT.test('/a.html'));
});
