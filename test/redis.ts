/**
 * A real redis-server for the queue tests (bench/redis-server.ts starts it: Debian's
 * package, on 127.0.0.1 at a free port, AOF on; .ci/run installs it). Without redis-server
 * the suites are skipped with the reason printed, unless CIMM_REQUIRE_REDIS=1 (CI sets it),
 * which makes a missing server an error.
 */
import { spawnSync } from 'node:child_process';
import { describe } from 'vitest';

export { type RedisServer, startRedis } from '../bench/redis-server.js';

const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
/** Why there is no redis-server here; undefined when there is one. */
export const redisMissing =
  probe.status === 0 ? undefined : `redis-server is not installed (${probe.error?.message ?? probe.stderr})`;

if (redisMissing) {
  if (process.env.CIMM_REQUIRE_REDIS === '1')
    throw new Error(`CIMM_REQUIRE_REDIS=1 but ${redisMissing}: install it (apt-get install redis-server)`);
  console.warn(`[cimm tests] skipping the queue tests: ${redisMissing} (apt-get install redis-server)`);
}

/** describe(), or describe.skip() naming the reason when there is no redis-server. */
export function describeRedis(title: string, body: () => void): void {
  if (redisMissing) describe.skip(`${title} (skipped: ${redisMissing})`, body);
  else describe(title, body);
}
