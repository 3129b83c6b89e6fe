// The one worker-thread seam: spawn a worker that runs our TypeScript, call it by request type and get its reply or
// its error (with the error's name), asynchronously or, for code behind a synchronous interface (the sharded hnswlib
// index), blocking. The worker module exports its handlers' type; the caller spawns with that type, so both ends of a
// request are checked by the compiler.
import {
  MessageChannel,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
  type MessagePort,
  type Transferable,
} from 'node:worker_threads';

/** A worker's API: one handler per request type, each taking at most one payload. */
export type Handlers = Record<string, (payload: any) => unknown>;

/** The wire: one request, one reply with the same id. */
export type Request = { id: number; type: string; payload: unknown };
export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

/** What a worker receives as its workerData: the caller's data, and the synchronous channel when asked for. */
interface Envelope {
  data: unknown;
  sync: { port: MessagePort; signal: Int32Array } | null;
}

// The synchronous channel's flag: the caller waits while it is WAITING; the worker sets REPLIED after each reply and
// DEAD when its thread exits (a blocked caller cannot see the exit event, its event loop is not running).
const WAITING = 0;
const REPLIED = 1;
const DEAD = 2;

/** A handler's result that moves buffers instead of copying them. */
export class Transfer<T> {
  constructor(
    readonly value: T,
    readonly list: Transferable[],
  ) {}
}

/** The worker stopped (exited, threw outside a handler, or was closed): every pending and later call gets this. */
export class WorkerDied extends Error {
  override name = 'WorkerDied';
}

/**
 * The URL of a worker module next to `base` (pass `import.meta.url`). Written as a call with the path first so that
 * dependency-cruiser (`exoticRequireStrings` in .dependency-cruiser.cjs) sees the edge to the worker file.
 */
export function workerUrl(path: string, base: string): URL {
  return new URL(path, base);
}

type Payload<F> = F extends () => unknown ? undefined : F extends (payload: infer P) => unknown ? P : never;
type Unwrap<R> = R extends Transfer<infer T> ? T : R;
/** What `call(type)` resolves to: the handler's awaited result, unwrapped from `Transfer`. */
export type Result<F> = F extends (...args: any[]) => infer R ? Unwrap<Awaited<R>> : never;
type Args<F> = undefined extends Payload<F>
  ? [payload?: Payload<F>, transfer?: Transferable[]]
  : [payload: Payload<F>, transfer?: Transferable[]];

export interface SpawnOptions {
  /** Names the worker in errors ("views worker exited (code 1)"). */
  label: string;
  /** Open the channel for `callSync`. */
  sync?: boolean;
  /** Let the process exit while the worker runs. */
  unref?: boolean;
  /** Transferables inside `data`. */
  transferList?: Transferable[];
  /** Called once when the worker dies on its own (not after `close`): a pool replaces it here. */
  onDeath?: (err: WorkerDied) => void;
}

// A `--import` of tsx's loader does not reach a worker's entry module on Node 20; registering it from a small
// bootstrap does. Resolved here, by absolute URL, so it works from the CLI, under ava and from any directory.
const TSX_API = import.meta.resolve('tsx/esm/api');

function bootstrap(url: URL): string {
  const entry = JSON.stringify(url.href);
  const load = url.pathname.endsWith('.ts')
    ? `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${entry}); })`
    : `import(${entry})`;
  return `const { workerData } = require('node:worker_threads');
const sync = workerData.sync;
if (sync) process.on('exit', () => { Atomics.store(sync.signal, 0, ${DEAD}); Atomics.notify(sync.signal, 0); });
${load};`;
}

/** Starts the worker module at `url` (TypeScript or JavaScript) with `data` (read there with `workerInput()`). */
export function spawnWorker<Api extends Handlers>(url: URL, data: unknown, opts: SpawnOptions): WorkerClient<Api> {
  let sync: { port: MessagePort; signal: Int32Array } | null = null;
  const transferList = [...(opts.transferList ?? [])];
  let theirs: Envelope['sync'] = null;
  if (opts.sync) {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    sync = { port: port1, signal };
    theirs = { port: port2, signal };
    transferList.push(port2);
  }
  const envelope: Envelope = { data, sync: theirs };
  const worker = new Worker(bootstrap(url), { eval: true, workerData: envelope, transferList });
  const client = new WorkerClient<Api>(worker, opts.label, sync, opts.onDeath);
  // After the client's listeners: a 'message' listener refs the worker's port again.
  if (opts.unref) worker.unref();
  return client;
}

/** The caller's side of one worker. */
export class WorkerClient<Api extends Handlers = Handlers> {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private failed: WorkerDied | null = null;
  private closed = false;
  private syncOutstanding = false;

  constructor(
    readonly worker: Worker,
    readonly label: string,
    private readonly sync: { port: MessagePort; signal: Int32Array } | null = null,
    private readonly onDeath?: (err: WorkerDied) => void,
  ) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(remoteError(m.error));
    });
    // 'error' (an exception outside a handler) comes before 'exit'; the first says more.
    worker.on('error', (e) => this.fail(new WorkerDied(`${label} worker failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => this.fail(new WorkerDied(`${label} worker exited (code ${code})`)));
  }

  private fail(err: WorkerDied): void {
    if (this.failed) return;
    this.failed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (!this.closed) this.onDeath?.(err);
  }

  /** Whether the worker has died or been closed. */
  get dead(): boolean {
    return this.failed !== null;
  }

  call<K extends keyof Api & string>(type: K, ...[payload, transfer]: Args<Api[K]>): Promise<Result<Api[K]>> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, payload } satisfies Request, transfer ?? []);
    });
  }

  /** A call that blocks this thread until the reply (workers spawned with `sync: true`). */
  callSync<K extends keyof Api & string>(type: K, ...args: Args<Api[K]>): Result<Api[K]> {
    this.postSync(type, ...args);
    return this.waitSync();
  }

  /** The first half of `callSync`: post several workers' requests, then wait for each, and they run in parallel. */
  postSync<K extends keyof Api & string>(type: K, ...[payload, transfer]: Args<Api[K]>): void {
    const sync = this.sync;
    if (!sync) throw new Error(`${this.label} worker was not spawned for synchronous calls`);
    if (this.syncOutstanding) throw new Error(`${this.label} worker: one synchronous call at a time`);
    if (this.failed) throw this.failed;
    if (Atomics.compareExchange(sync.signal, 0, REPLIED, WAITING) === DEAD) throw this.died();
    sync.port.postMessage({ id: this.next++, type, payload } satisfies Request, transfer ?? []);
    this.syncOutstanding = true;
  }

  /** The second half of `callSync`: blocks until the posted request's reply. */
  waitSync<T = any>(): T {
    const sync = this.sync;
    if (!sync || !this.syncOutstanding) throw new Error(`${this.label} worker: no synchronous call to wait for`);
    for (;;) {
      // Dead is checked after looking for the reply, and the reply looked for once more: a worker may answer, then exit.
      const dead = this.failed !== null || Atomics.load(sync.signal, 0) === DEAD;
      const got = receiveMessageOnPort(sync.port);
      if (got) {
        this.syncOutstanding = false;
        const m = got.message as Reply;
        if (m.ok) return m.result as T;
        throw remoteError(m.error);
      }
      if (dead) {
        this.syncOutstanding = false;
        throw this.died();
      }
      Atomics.wait(sync.signal, 0, WAITING);
    }
  }

  private died(): WorkerDied {
    this.failed ??= new WorkerDied(`${this.label} worker exited`);
    return this.failed;
  }

  /** Stops the worker; pending calls reject with WorkerDied ("… worker closed"). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new WorkerDied(`${this.label} worker closed`));
    await this.worker.terminate();
  }
}

function remoteError(e: { name: string; message: string; stack?: string }): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

// ---- the worker's side ----

/** The data the caller passed to `spawnWorker`. */
export function workerInput<T>(): T {
  return (workerData as Envelope).data as T;
}

/** Answers the caller's requests (and synchronous ones, when spawned with `sync`) with the worker's handlers. */
export function serve(handlers: Handlers): void {
  const port = parentPort;
  if (!port) throw new Error('serve() runs in a worker thread started by spawnWorker()');
  const answer = async (m: Request): Promise<[Reply, Transferable[]]> => {
    try {
      const h = handlers[m.type];
      if (!h) throw new Error(`unknown request ${m.type}`);
      const out = await h(m.payload);
      if (out instanceof Transfer) return [{ id: m.id, ok: true, result: out.value }, out.list];
      return [{ id: m.id, ok: true, result: out }, []];
    } catch (e) {
      return [failure(m.id, e), []];
    }
  };
  const reply = (to: MessagePort, [r, list]: [Reply, Transferable[]]) => {
    try {
      to.postMessage(r, list);
    } catch (e) {
      // A result that cannot be cloned is the handler's bug: the caller gets it as an error, the worker lives on.
      to.postMessage(failure(r.id, e));
    }
  };
  port.on('message', (m: Request) => void answer(m).then((r) => reply(port, r)));
  const sync = (workerData as Envelope).sync;
  if (sync) {
    sync.port.on('message', (m: Request) =>
      void answer(m).then((r) => {
        reply(sync.port, r);
        Atomics.store(sync.signal, 0, REPLIED);
        Atomics.notify(sync.signal, 0);
      }),
    );
  }
}

function failure(id: number, e: unknown): Reply {
  const err = e instanceof Error ? e : new Error(String(e));
  return { id, ok: false, error: { name: err.name, message: err.message, stack: err.stack } };
}
