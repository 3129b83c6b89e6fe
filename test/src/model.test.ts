// The exported-model floor: float16 conversion and the safetensors format, read back and refused when malformed.
import test from 'ava';
import { fromFloat16Bits, toFloat16Bits } from '../../src/model/float16.ts';
import { readSafetensors, writeSafetensors, SafetensorsError } from '../../src/model/safetensors.ts';

test('float16: known values, rounding to nearest even, and every half value survives a round trip', (t) => {
  t.is(toFloat16Bits(1), 0x3c00);
  t.is(toFloat16Bits(-2), 0xc000);
  t.is(toFloat16Bits(65504), 0x7bff);
  t.is(toFloat16Bits(65520), 0x7c00); // rounds up past the largest half: infinity
  t.is(toFloat16Bits(0.1), 0x2e66);
  t.is(toFloat16Bits(2 ** -24), 0x0001); // smallest subnormal
  t.is(toFloat16Bits(2 ** -25), 0x0000); // a tie rounds to even (zero)
  t.is(toFloat16Bits(1 + 2 ** -11), 0x3c00); // tie between 1 and 1 + 2^-10: even
  t.is(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  t.true(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  const wrong: number[] = [];
  for (let h = 0; h < 0x10000; h++) {
    const v = fromFloat16Bits(h);
    if (!Number.isNaN(v) && toFloat16Bits(v) !== h) wrong.push(h);
  }
  t.deepEqual(wrong, []);
});

test('safetensors: header padded to 8 bytes, tensors read back in F32 and F16, malformed files refused', (t) => {
  const tensors = new Map([
    ['a.weight', { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6.25) }],
    ['b', { shape: [1], data: Float32Array.of(-0.5) }],
  ]);
  for (const dtype of ['F32', 'F16'] as const) {
    const buf = writeSafetensors(tensors, dtype, { format: 'pt' });
    const n = Number(buf.readBigUInt64LE(0));
    t.is(n % 8, 0);
    t.is(JSON.parse(buf.subarray(8, 8 + n).toString()).b.dtype, dtype);
    const back = readSafetensors(buf);
    t.deepEqual(back.metadata, { format: 'pt' });
    t.deepEqual([...back.tensors.get('a.weight')!.data], [1, 2, 3, 4, 5, 6.25]);
    t.deepEqual(back.tensors.get('b')!.shape, [1]);
  }
  t.throws(() => readSafetensors(Buffer.from([1, 2])), { instanceOf: SafetensorsError });
  const big = Buffer.alloc(16);
  big.writeBigUInt64LE(1000n);
  t.throws(() => readSafetensors(big), { instanceOf: SafetensorsError, message: /does not fit/ });
  const cut = writeSafetensors(tensors, 'F32').subarray(0, -4);
  t.throws(() => readSafetensors(cut), { instanceOf: SafetensorsError, message: /data_offsets/ });
});
