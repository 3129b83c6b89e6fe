// Where the queue lives: a redis:// URL from --queue, turned into ioredis options for BullMQ, and the names both
// sides agree on (the queue, the key that records the coordinator's shard schema).
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import type { RedisOptions } from 'bullmq';
import { InputError } from '../../src/errors.ts';

/** One BullMQ queue for every coordinator; jobs carry their workspace's token (several workspaces may share it). */
export const QUEUE_NAME = 'pros-curate';
export const QUEUE_PREFIX = 'pros';
/** The shard schema of the newest coordinator on this queue, read by workers before they take a job. */
export const SCHEMA_KEY = `${QUEUE_PREFIX}:${QUEUE_NAME}:schema`;

export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`--queue ${url}: not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError(`--queue ${url}: expected redis://HOST:PORT or rediss://`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new InputError(`--queue ${url}: the path must be a database number`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's blocking commands need this; it also makes commands wait through a Redis restart instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
}

/** A plain connection (schema key, tests); closed by the caller. */
export function connect(url: string): Redis {
  return new Redis(redisOptions(url) as IORedisOptions);
}
