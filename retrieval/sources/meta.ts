// Row metadata: well-known columns under one canonical name, every other scalar column kept as it is named. Column
// names are data (a list file can name a column "__proto__"), so names are looked up in a Map and collected in a
// null-prototype object; and what is kept is bounded, since it is stored per item and served by the web UI.

/** Column names (lower-cased) → canonical meta key. LAION: URL, TEXT, LICENSE, WIDTH, HEIGHT, … */
const ALIASES = new Map<string, string>([
  ['text', 'caption'],
  ['caption', 'caption'],
  ['alt', 'caption'],
  ['license', 'licence'],
  ['licence', 'licence'],
  ['width', 'width'],
  ['height', 'height'],
  ['similarity', 'similarity'],
  ['punsafe', 'punsafe'],
  ['pwatermark', 'pwatermark'],
  ['nsfw', 'nsfw'],
  ['hash', 'hash'],
  ['sha256', 'sha256'],
]);

/** Bounds on what one row may store: longer text values are cut (ending in "…"), columns past the cap dropped. */
export const META_LIMITS = { maxKeys: 32, maxKeyLength: 64, maxValueLength: 2000 } as const;
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
  const meta: Record<string, unknown> = Object.create(null);
  let kept = 0;
  for (const [key, raw] of Object.entries(row)) {
    if (key === urlKey) continue;
    let v = scalar(raw);
    if (v === undefined || v === '') continue;
    const name = ALIASES.get(key.toLowerCase()) ?? key;
    if (name.length > META_LIMITS.maxKeyLength || Object.hasOwn(meta, name)) continue;
    if (kept >= META_LIMITS.maxKeys) break;
    if (NUMERIC.has(name) && typeof v === 'string') {
      const n = Number(v);
      if (Number.isFinite(n)) v = n;
    }
    if (typeof v === 'string' && v.length > META_LIMITS.maxValueLength) v = `${v.slice(0, META_LIMITS.maxValueLength - 1)}…`;
    meta[name] = v;
    kept++;
  }
  // Spread copies with define semantics: an own "__proto__" key stays an own key of the plain object returned.
  return kept ? { ...meta } : undefined;
}

export function findUrlKey(keys: Iterable<string>): string | undefined {
  for (const k of keys) if (k.trim().toLowerCase() === 'url') return k;
  return undefined;
}
