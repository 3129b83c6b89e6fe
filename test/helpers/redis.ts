// A real redis-server for a test: a free loopback port, its own temp folder, append-only persistence (so a restart
// keeps the queue), stopped at teardown. `available` says whether redis-server is installed (test/helpers/requires.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../retrieval/queue/connection.ts';

export const redisAvailable = spawnSync('redis-server', ['--version']).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  dir: string;
  /** Stops the server (a clean shutdown: the append-only file is complete). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
}

async function waitReady(url: string): Promise<void> {
  const r = connect(url);
  r.on('error', () => undefined);
  try {
    for (let i = 0; i < 200; i++) {
      try {
        if ((await r.ping()) === 'PONG') return;
      } catch {
        // not up yet
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`redis at ${url} did not answer`);
  } finally {
    r.disconnect();
  }
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pros-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const handle: TestRedis = {
    url,
    dir,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'], { stdio: 'ignore' });
      await waitReady(url);
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
      });
      proc = undefined;
    },
  };
  await handle.start();
  return handle;
}
