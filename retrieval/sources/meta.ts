// Row metadata: well-known columns under one canonical name, every other scalar column kept as it is named.

/** Column names (lower-cased) → canonical meta key. LAION: URL, TEXT, LICENSE, WIDTH, HEIGHT, … */
const ALIASES: Record<string, string> = {
  text: 'caption',
  caption: 'caption',
  alt: 'caption',
  license: 'licence',
  licence: 'licence',
  width: 'width',
  height: 'height',
  similarity: 'similarity',
  punsafe: 'punsafe',
  pwatermark: 'pwatermark',
  nsfw: 'nsfw',
  hash: 'hash',
  sha256: 'sha256',
};
const NUMERIC = new Set(['width', 'height', 'similarity', 'punsafe', 'pwatermark']);

function scalar(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return undefined; // lists, structs, bytes: not metadata we can store as a scalar
}

/** Splits a row into its URL text and metadata. `urlKey` is the row's own name for the url column. */
export function rowMeta(row: Record<string, unknown>, urlKey: string): Record<string, unknown> | undefined {
  const meta: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(row)) {
    if (key === urlKey) continue;
    let v = scalar(raw);
    if (v === undefined || v === '') continue;
    const name = ALIASES[key.toLowerCase()] ?? key;
    if (NUMERIC.has(name) && typeof v === 'string') {
      const n = Number(v);
      if (Number.isFinite(n)) v = n;
    }
    if (!(name in meta)) meta[name] = v;
  }
  return Object.keys(meta).length ? meta : undefined;
}

export function findUrlKey(keys: Iterable<string>): string | undefined {
  for (const k of keys) if (k.trim().toLowerCase() === 'url') return k;
  return undefined;
}
