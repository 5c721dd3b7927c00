/**
 * Where the queue lives: a Redis URL (`redis://[user:password@]HOST:PORT[/DB]`, or
 * `rediss://` for TLS) turned into ioredis options, and the check every coordinator and
 * worker makes before it touches the queue: BullMQ needs `maxmemory-policy noeviction`,
 * because an evicted job key or lock silently loses a run (docs/theory.md, "Scale-out").
 */
import { Redis, type RedisOptions } from 'ioredis';
import { argumentError } from '../errors.js';

/** The BullMQ queue every cimm job goes on (compare runs and training jobs). */
export const QUEUE_NAME = 'cimm';

/** The key prefix of everything cimm stores in Redis (BullMQ's own keys and the checkpoint store). */
export const KEY_PREFIX = 'cimm';

/** Thrown when the queue's Redis is unusable (wrong eviction policy, unreachable). */
export class CimmQueueError extends Error {
  readonly code = 'ERR_CIMM_QUEUE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CimmQueueError';
  }
}

/**
 * ioredis options for a queue URL. `maxRetriesPerRequest: null` makes every command wait
 * through a Redis restart instead of failing after 20 retries (BullMQ requires it for
 * workers; the coordinator wants it too: a sweep must survive a restart).
 * `name` is the parameter named in errors (`--queue` on the command line).
 */
export function redisOptions(url: string, name = 'queue'): RedisOptions {
  const what = 'a Redis URL redis://HOST:PORT[/DB] (or rediss:// for TLS)';
  if (typeof url !== 'string') throw argumentError(name, what, url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw argumentError(name, what, url);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw argumentError(name, what, url);
  if (!u.hostname) throw argumentError(name, `${what} with a host`, url);
  const port = u.port === '' ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw argumentError(name, `${what} whose /DB is a database number`, url);
  const db = path === '' ? 0 : Number(path);
  if (u.search || u.hash) throw argumentError(name, `${what} without a query or fragment`, url);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // reconnect every ≤ 1 s, forever: a restarted Redis is picked up within a second
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  };
}

/** A Redis URL without its password, for messages and logs. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Connect, and refuse a Redis whose eviction policy is not `noeviction` (read from
 * `INFO memory`, which works where CONFIG is disabled, as on managed Redis). Throws
 * CimmQueueError with the fix. `timeoutMs` bounds the first connection.
 */
export async function checkRedis(url: string, options: { timeoutMs?: number } = {}): Promise<void> {
  const client = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: options.timeoutMs ?? 10_000,
  });
  let last: Error | undefined;
  client.on('error', (e: Error) => {
    last = e; // the socket's own error (ECONNREFUSED …) says more than connect()'s
  });
  try {
    try {
      await client.connect();
    } catch (e) {
      const why = last ?? (e as Error);
      throw new CimmQueueError(`cannot reach Redis at ${displayUrl(url)}: ${why.message}`, { cause: why });
    }
    const info = await client.info('memory');
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    if (policy !== 'noeviction') {
      throw new CimmQueueError(
        `Redis at ${displayUrl(url)} has maxmemory-policy ${policy ?? 'unknown'}; BullMQ needs noeviction, ` +
          'or Redis may evict queued jobs and their results (set `maxmemory-policy noeviction` in redis.conf, ' +
          'or run `redis-cli CONFIG SET maxmemory-policy noeviction`)',
      );
    }
  } finally {
    client.disconnect();
  }
}
