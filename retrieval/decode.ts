// Decoding untrusted image bytes into the small sRGB raster that face analysis reads.
// The format is sniffed from magic bytes (never from a Content-Type or file name), the pixel count is checked from
// the header before any pixel is decoded (decompression bombs), EXIF orientation is applied, and every colour model
// (greyscale, CMYK, palette, alpha) ends as 3-channel sRGB with alpha flattened on white.
// Truncated files are a `decode_error` (sharp `failOn: 'truncated'`): a half-grey picture would give the detector a
// damaged face, and a truncated download is a fetch fault the caller can retry, not a picture to curate.
import { isDecodable } from '../src/image-formats.ts';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { DecodeConfig } from '../src/config.ts';

export type DecodeFailure = 'not_image' | 'unsupported_format' | 'too_many_pixels' | 'too_small' | 'decode_error';

export type Decoded =
  | {
      ok: true;
      sha256: string;
      /** Sniffed container: jpeg | png | webp | gif | avif | heif | tiff. */
      format: string;
      /** Source size after EXIF rotation. */
      width: number;
      height: number;
      /** Analysis raster: 3-channel sRGB, row-major, longest side ≤ cfg.analysisSize (never upscaled). */
      rgb: Buffer;
      aw: number;
      ah: number;
      /** Source pixels per analysis pixel (≥ 1). */
      scale: number;
    }
  | { ok: false; reason: DecodeFailure; detail?: string; sha256: string };

// Decodable formats: src/image-formats.ts. Recognised but not decodable (svg is a document, and bmp/ico/psd are not
// in the prebuilt binaries) are `unsupported_format`, anything else `not_image`.

/** The image container named by the first bytes, or null. `svg` and `bmp` are recognised to be refused. */
export function sniffFormat(b: Buffer): string | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 4 && (b.readUInt32BE(0) === 0x49492a00 || b.readUInt32BE(0) === 0x4d4d002a)) return 'tiff';
  if (b.length >= 12 && b.toString('latin1', 4, 8) === 'ftyp') {
    const brand = b.toString('latin1', 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'heim', 'heis'].includes(brand)) return 'heif';
    return null;
  }
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  const head = b.toString('utf8', 0, Math.min(b.length, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return null;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function decodeImage(bytes: Buffer, cfg: DecodeConfig): Promise<Decoded> {
  const sha256 = sha256Hex(bytes);
  const fail = (reason: DecodeFailure, detail?: string): Decoded => ({ ok: false, reason, detail, sha256 });
  const format = sniffFormat(bytes);
  if (!format) return fail('not_image');
  if (!isDecodable(format)) return fail('unsupported_format', format);

  // Header only: libvips reads dimensions without decoding pixels.
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'none', limitInputPixels: false }).metadata();
  } catch (err) {
    return fail('decode_error', (err as Error).message);
  }
  const w0 = meta.width ?? 0;
  const h0 = meta.pageHeight ?? meta.height ?? 0;
  if (!w0 || !h0) return fail('decode_error', 'no dimensions in header');
  if (w0 * h0 > cfg.maxPixels) return fail('too_many_pixels', `${w0}x${h0}`);
  const swap = (meta.orientation ?? 1) >= 5;
  const width = swap ? h0 : w0;
  const height = swap ? w0 : h0;
  if (Math.min(width, height) < cfg.minSide) return fail('too_small', `${width}x${height}`);

  const scale = Math.max(1, Math.max(width, height) / cfg.analysisSize);
  const aw = Math.max(1, Math.round(width / scale));
  const ah = Math.max(1, Math.round(height / scale));
  try {
    // limitInputPixels repeats the header check inside libvips, in case the header lied about a later page.
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: cfg.maxPixels, pages: 1 })
      .rotate()
      .resize(aw, ah, { fit: 'fill', kernel: 'lanczos3' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== aw || info.height !== ah) {
      return fail('decode_error', `unexpected raster ${info.width}x${info.height}x${info.channels}`);
    }
    return { ok: true, sha256, format, width, height, rgb: data, aw, ah, scale: width / aw };
  } catch (err) {
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) return fail('too_many_pixels', msg);
    // HEIC (HEVC inside HEIF) is not in sharp's prebuilt libheif, which decodes AVIF only.
    if (format === 'heif' && /compression format|not been built|unsupported/i.test(msg)) return fail('unsupported_format', msg);
    return fail('decode_error', msg);
  }
}
