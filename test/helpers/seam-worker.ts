// A worker for the seam's own tests (test/src/workers.test.ts): echoes, throws, exits, and can fail to load.
import { serve, Transfer, workerInput } from '../../src/workers.ts';
import { InputError } from '../../src/errors.ts';

export type SeamWorkerData = { failLoad?: string };
const data = workerInput<SeamWorkerData>();
if (data.failLoad) throw new RangeError(data.failLoad);

const api = {
  add({ a, b }: { a: number; b: number }): number {
    return a + b;
  },
  async later(ms: number): Promise<string> {
    await new Promise((r) => setTimeout(r, ms));
    return 'later';
  },
  double(v: Float32Array) {
    const out = v.map((x) => 2 * x);
    return new Transfer(out, [out.buffer as ArrayBuffer]);
  },
  bad(what: string): never {
    throw new InputError(`bad input: ${what}`);
  },
  notCloneable() {
    return { f: () => 1 };
  },
  exit(code: number): void {
    // After this reply is posted: the caller's next or pending calls meet a dead worker.
    setImmediate(() => process.exit(code));
  },
  exitNow(code: number): void {
    process.exit(code);
  },
};
export type SeamWorkerApi = typeof api;
serve(api);
