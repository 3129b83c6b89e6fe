// Does any held-out face repeat a pre-training face? Compared on what curation stored for each face: the dHash of
// its grey crop and human's 1024-d descriptor. A held-out face that the curation's own near-duplicate rule would
// call a copy of a pre-training face (descriptor cosine ≥ dedup.nearThreshold and dHash within
// dedup.maxHashDistance bits) is taken out of the evaluation; the closest pairs are reported either way.
import { join } from 'node:path';
import type { Workspace } from '../../src/workspace.ts';
import type { ProsConfig } from '../../src/config.ts';
import { VectorStore } from '../../src/index/index.ts';
import { DESCRIPTOR_DIM } from '../../retrieval/face-index.ts';
import { hammingHex } from '../../src/dhash.ts';
import type { FaceRow } from '../../src/contracts/rows.ts';

export interface Overlap {
  method: 'dhash+descriptor';
  pretrainFaces: number;
  heldoutFaces: number;
  /** The curation's near-duplicate rule, across sides. */
  rule: { minCosine: number; maxHashDistance: number };
  /** Held-out faces that break the rule (removed from the evaluation). */
  duplicates: Array<{ heldout: number; pretrain: number; cosine: number; distance: number }>;
  /** Smallest dHash distance and largest descriptor cosine between any held-out and any pre-training face. */
  minDistance: number | null;
  maxCosine: number | null;
  /** Held-out faces within 6 dHash bits of some pre-training face (dHash alone; informational). */
  hashNear: number;
}

type Row = Pick<FaceRow, 'id' | 'dhash' | 'descriptor_row'>;

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}

export function checkOverlap(ws: Workspace, config: ProsConfig, pretrain: number[], heldout: number[]): Overlap {
  const q = ws.db.prepare<[number], Row>('SELECT id, dhash, descriptor_row FROM faces WHERE id = ?');
  const rows = (ids: number[]) => ids.map((id) => q.get(id)).filter((r): r is Row => !!r);
  const P = rows(pretrain);
  const H = rows(heldout);
  const store = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
  const vec = (r: Row) => (r.descriptor_row != null && r.descriptor_row < store.count() ? unit(store.read(r.descriptor_row)) : undefined);
  const pv = P.map(vec);
  const rule = { minCosine: config.dedup.nearThreshold, maxHashDistance: config.dedup.maxHashDistance };
  const duplicates: Overlap['duplicates'] = [];
  let minDistance: number | null = null;
  let maxCosine: number | null = null;
  let hashNear = 0;
  for (const h of H) {
    const hv = vec(h);
    let near = false;
    let dup: Overlap['duplicates'][number] | undefined;
    P.forEach((p, j) => {
      const d = h.dhash && p.dhash ? hammingHex(h.dhash, p.dhash) : null;
      let c: number | null = null;
      const v = pv[j];
      if (hv && v) {
        c = 0;
        for (let k = 0; k < DESCRIPTOR_DIM; k++) c += hv[k]! * v[k]!;
      }
      if (d !== null) {
        minDistance = minDistance === null ? d : Math.min(minDistance, d);
        if (d <= 6) near = true;
      }
      if (c !== null) maxCosine = maxCosine === null ? c : Math.max(maxCosine, c);
      if (d !== null && c !== null && d <= rule.maxHashDistance && c >= rule.minCosine && (!dup || c > dup.cosine)) {
        dup = { heldout: h.id, pretrain: p.id, cosine: c, distance: d };
      }
    });
    if (near) hashNear++;
    if (dup) duplicates.push(dup);
  }
  store.close();
  return { method: 'dhash+descriptor', pretrainFaces: P.length, heldoutFaces: H.length, rule, duplicates, minDistance, maxCosine, hashNear };
}
