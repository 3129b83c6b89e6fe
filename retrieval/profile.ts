// Per-stage time accounting for `pros curate`, switched on by passing a StageProfile (bench:curate --profile).
// Stages are summed across items; the table divides by images so one row reads "ms per image". Off by default:
// the pipeline then takes no clock readings beyond the ones it always keeps.

export interface StageRow {
  stage: string;
  /** Times the stage ran. */
  calls: number;
  /** Milliseconds summed over all calls. */
  ms: number;
}

export class StageProfile {
  private readonly sums = new Map<string, { calls: number; ms: number }>();
  /** Counters beside the times (faces described, queue depths), printed under the table. */
  readonly counts = new Map<string, number>();

  count(name: string, n: number): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  add(stage: string, ms: number, calls = 1): void {
    const s = this.sums.get(stage) ?? { calls: 0, ms: 0 };
    s.calls += calls;
    s.ms += ms;
    this.sums.set(stage, s);
  }

  /** Adds every stage of a per-item record (the face worker's model times come back this way). */
  addAll(rec: Record<string, number> | undefined, calls = 1): void {
    if (!rec) return;
    for (const [stage, ms] of Object.entries(rec)) this.add(stage, ms, calls);
  }

  async time<T>(stage: string, fn: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.add(stage, performance.now() - t);
    }
  }

  rows(): StageRow[] {
    return [...this.sums].map(([stage, s]) => ({ stage, ...s }));
  }

  /** A markdown table: stage, calls, total ms, ms per image (over `images`). */
  table(images: number): string {
    const lines = ['| stage | calls | total ms | ms per image |', '|---|---|---|---|'];
    for (const r of this.rows()) {
      lines.push(`| ${r.stage} | ${r.calls} | ${r.ms.toFixed(0)} | ${(r.ms / Math.max(1, images)).toFixed(2)} |`);
    }
    for (const [name, n] of this.counts) lines.push(`\n${name}: ${Number.isInteger(n) ? n : n.toFixed(2)}`);
    return lines.join('\n');
  }
}
