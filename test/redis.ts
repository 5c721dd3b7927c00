/**
 * A real redis-server for the queue tests: Debian's package (.ci/run installs it), started
 * on 127.0.0.1 at a free port with AOF on and RDB snapshots off, in a temporary directory,
 * stopped after. Without redis-server the suites are skipped with the reason printed,
 * unless CIMM_REQUIRE_REDIS=1 (CI sets it), which makes a missing server an error.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

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

export interface RedisServer {
  url: string;
  port: number;
  /** Stop and start again on the same port and directory (the AOF brings the data back). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', '', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    child.stdout?.on('data', (b) => {
      out += b;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM'); // redis-server flushes its AOF and exits
  });
}

/** Start a server (`extra`: more redis-server options, e.g. `--maxmemory-policy allkeys-lru`). */
export async function startRedis(extra: string[] = []): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cimm-redis-'));
  const port = await freePort();
  let child = await launch(port, dir, extra);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await stopped(child);
      child = await launch(port, dir, extra);
    },
    async stop() {
      await stopped(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
