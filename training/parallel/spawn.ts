// Worker threads that run our TypeScript directly: the worker gets tsx's loader by absolute URL, so this works from
// the CLI (tsx registered by API), under ava (--import=tsx) and from any working directory.
import { Worker } from 'node:worker_threads';

export function spawnTsWorker(url: URL, workerData: unknown): Worker {
  // A `--import` of tsx's loader does not reach a worker's entry module on Node 20; registering it from a small
  // bootstrap does.
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** Request/response over a worker's messages: one pending request per `id`. */
export class WorkerClient {
  private next = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;

  constructor(readonly worker: Worker, readonly label: string) {
    worker.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string; kind?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else {
        const e = new Error(m.error);
        if (m.kind) e.name = m.kind;
        p.reject(e);
      }
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`${label} worker failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`${label} worker exited (code ${code})`)));
  }

  call<T>(type: string, payload: unknown = {}, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, payload }, transfer);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** The worker side: answers requests with a handler per type. */
export function serve(port: import('node:worker_threads').MessagePort, handlers: Record<string, (payload: any) => Promise<{ result: unknown; transfer?: ArrayBuffer[] } | unknown>>): void {
  port.on('message', async (m: { id: number; type: string; payload: unknown }) => {
    try {
      const h = handlers[m.type];
      if (!h) throw new Error(`unknown request ${m.type}`);
      const out = (await h(m.payload)) as { result: unknown; transfer?: ArrayBuffer[] } | undefined;
      if (out && typeof out === 'object' && 'result' in out) port.postMessage({ id: m.id, ok: true, result: out.result }, out.transfer ?? []);
      else port.postMessage({ id: m.id, ok: true, result: out });
    } catch (e) {
      port.postMessage({ id: m.id, ok: false, error: (e as Error).message, kind: (e as Error).name });
    }
  });
}
