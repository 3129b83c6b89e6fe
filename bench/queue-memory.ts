// node --import tsx bench/queue-memory.ts: Redis memory per queued shard (1,000 shards of 100 LAION-like URLs, as
// `pros curate --queue` enqueues them), read from `INFO memory` used_memory and `MEMORY USAGE` of one job hash.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.ts';
import { defaults } from '../src/config.ts';
const server = await startRedis();
const url = { host: '127.0.0.1', port: Number(new URL(server.url).port), maxRetriesPerRequest: null };
const r = new Redis(url);
const mem = async () => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);
const q = new Queue('pros-curate', { connection: url, prefix: 'pros' });
const before = await mem();
const shards = 1000, size = 100;
for (let s = 1; s <= shards; s++) {
  const items = Array.from({ length: size }, (_, i) => ({ id: s * size + i, uri: `https://images.example-cdn.com/photos/2023/05/${s}/${i}/a-typical-laion-style-image-name-${i}.jpg`, local: false }));
  await q.add('shard', { schema: 'pros-shard/1', run: 'abcdef012345', shard: s, config: { fetch: defaults.fetch, decode: defaults.decode, faces: defaults.faces, policy: defaults.policy }, items }, { jobId: `abcdef012345-s${s}`, attempts: 3 });
}
const after = await mem();
console.log('per queued shard of', size, 'URLs:', Math.round((after - before) / shards), 'bytes; MEMORY USAGE of one job hash:', await r.call('MEMORY', 'USAGE', 'pros:pros-curate:abcdef012345-s1'));
await q.close();
r.disconnect();
await server.stop();
