// The safetensors format (huggingface/safetensors), written and read by hand: an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}} padded with
// spaces to 8 bytes, then the tensors' bytes, little-endian, in header order. Only F32 and F16 are used here.
import { decodeFloat16, encodeFloat16 } from './float16.ts';

export type SafeDtype = 'F32' | 'F16';

export interface SafeTensor {
  shape: number[];
  data: Float32Array;
}

export class SafetensorsError extends Error {}

export function writeSafetensors(tensors: Map<string, SafeTensor>, dtype: SafeDtype, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`${name}: ${t.data.length} values for shape [${t.shape}]`);
    const bytes = dtype === 'F16' ? encodeFloat16(t.data) : Float32Array.from(t.data);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + buf.length] };
    parts.push(buf);
    offset += buf.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), ...parts]);
}

export function readSafetensors(file: Buffer): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  if (file.length < 8) throw new SafetensorsError('not a safetensors file (shorter than its 8-byte header length)');
  const n = Number(file.readBigUInt64LE(0));
  if (n > file.length - 8) throw new SafetensorsError(`safetensors header of ${n} bytes does not fit in a ${file.length}-byte file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw new SafetensorsError('safetensors header is not JSON');
  }
  const body = file.subarray(8 + n);
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = shape.reduce((a, b) => a * b, 1);
    const width = dtype === 'F16' ? 2 : dtype === 'F32' ? 4 : 0;
    if (!width) throw new SafetensorsError(`${name}: dtype ${dtype} is not read here (F16, F32)`);
    if (end - begin !== size * width || end > body.length) throw new SafetensorsError(`${name}: data_offsets [${begin}, ${end}] do not hold shape [${shape}] of ${dtype}`);
    // Copy to an aligned buffer: a tensor's offset in the file need not be a multiple of its width.
    const raw = new Uint8Array(end - begin);
    raw.set(body.subarray(begin, end));
    const data = width === 2 ? decodeFloat16(new Uint16Array(raw.buffer)) : new Float32Array(raw.buffer);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
