// Counting semaphores: one global, one per host, so that one slow host never holds every global slot.

export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`semaphore limit must be ≥ 1, got ${limit}`);
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }
}

export class HostLimiter {
  private readonly global: Semaphore;
  private readonly hosts = new Map<string, Semaphore>();
  constructor(globalLimit: number, private readonly perHost: number) {
    this.global = new Semaphore(globalLimit);
  }

  /** Host slot first, then a global slot: a queue for one host never holds global slots while it waits. */
  async acquire(host: string): Promise<() => void> {
    let sem = this.hosts.get(host);
    if (!sem) this.hosts.set(host, (sem = new Semaphore(this.perHost)));
    const releaseHost = await sem.acquire();
    const releaseGlobal = await this.global.acquire();
    return () => {
      releaseGlobal();
      releaseHost();
      if (sem.idle) this.hosts.delete(host);
    };
  }
}
