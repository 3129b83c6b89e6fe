// Which test rows are scored together. Most datasets have one test split; 300W has published subsets that are
// reported apart (common, challenge, full = common + challenge, and the 300-W private set), each stored under its
// own dataset name (`300w/common`, …) so the report keeps them in separate tables.
import type { Sample } from './readers/types.ts';

export interface TestGroup {
  /** Dataset name stored with the group's metric rows. */
  dataset: string;
  /** Indices into the test samples. */
  idx: number[];
}

/** Subsets in the order they are reported; a subset name not listed here follows them. */
const ORDER = ['common', 'challenge', 'full', 'private'];
/** Published unions of subsets. */
const UNIONS: Record<string, string[]> = { full: ['common', 'challenge'] };

export function testGroups(dataset: string, samples: Array<Pick<Sample, 'subset'>>): TestGroup[] {
  if (!samples.some((s) => s.subset)) return [{ dataset, idx: samples.map((_, i) => i) }];
  const by = new Map<string, number[]>();
  samples.forEach((s, i) => {
    const k = s.subset ?? 'other';
    by.set(k, [...(by.get(k) ?? []), i]);
  });
  for (const [union, parts] of Object.entries(UNIONS)) {
    const idx = parts.flatMap((p) => by.get(p) ?? []).sort((a, b) => a - b);
    if (idx.length) by.set(union, idx);
  }
  const rank = (k: string) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
  return [...by.entries()]
    .sort((a, b) => rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1))
    .map(([k, idx]) => ({ dataset: `${dataset}/${k}`, idx }));
}
