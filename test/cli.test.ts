/**
 * The cimm command line, run as a child process on the built dist (built once here with
 * tsc -p tsconfig.build.json): exit codes, --json shapes, usage errors, parallel == serial,
 * and SIGINT (exit 130 with a partial report).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin', 'cimm');

beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}, 180_000);

function cimm(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'cimm-cli-'));

describe('cimm: usage errors exit 2', () => {
  it.each([
    [[]],
    [['bogus']],
    [['info', '--nope']],
    [['train', '--optimizer', 'Adam']],
    [['train', '--task', 'iris']],
    [['train', '--task', 'nope', '--optimizer', 'Adam']],
    [['train', '--task', 'iris', '--optimizer', 'Adam', '--lr', '-1']],
    [['compare', '--seeds', '0']],
    [['compare', '--tasks', 'iris,nope']],
    [['compare', '--optimizers', 'Nadam']],
    [['compare', '--workers', 'two']],
  ])('cimm %j', (args) => {
    const r = cimm(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: cimm/);
    expect(r.stdout).toBe('');
  });

  it('--help exits 0', () => {
    const r = cimm('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted/);
  });
});

describe('cimm info', () => {
  it('--json describes the backend', () => {
    const r = cimm('info', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ name: expect.any(String), simdPath: expect.any(String), threads: expect.any(Number) });
    expect(Array.isArray(j.cpuFeatures)).toBe(true);
    expect(j.backends.map((b: { name: string }) => b.name)).toEqual(['rust', 'cpp', 'js']);
  });
});

describe('cimm train', () => {
  it('--json reports the run and writes the checkpoint', () => {
    const dir = tmp();
    const ckpt = join(dir, 'run.json');
    const args = ['train', '--task', 'iris', '--optimizer', 'Adam', '--lr', '0.01', '--steps', '30', '--seed', '2'];
    const r = cimm(...args, '--json', '--checkpoint', ckpt);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ task: 'iris', optimizer: 'Adam', lr: 0.01, seed: 2, steps: 30, diverged: false });
    expect(j.target.metric).toBe('testAccuracy');
    expect(j.curve.at(-1).step).toBe(30);
    expect(JSON.parse(readFileSync(ckpt, 'utf8')).finalMetric).toBe(j.finalMetric);
    // deterministic for a seed
    expect(JSON.parse(cimm(...args, '--json').stdout).curve).toEqual(j.curve);
  });

  it('runs the RL task with a step-size rule', () => {
    const r = cimm('train', '--task', 'cliff-walking', '--optimizer', 'inverse-visit-count', '--steps', '20', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).target.metric).toBe('greedyReturn');
  });

  it('a diverging run exits 1', () => {
    const r = cimm('train', '--task', 'least-squares', '--optimizer', 'SGD', '--lr', '1e6', '--steps', '50');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/diverged/);
  });
});

describe('cimm compare', () => {
  const small = [
    '--quick',
    '--tasks',
    'least-squares,iris,cliff-walking',
    '--optimizers',
    'SGD,Adam,fixed',
    '--seeds',
    '2',
  ];
  const numbers = (stdout: string) => {
    const j = JSON.parse(stdout);
    for (const t of j.tasks) for (const r of t.runs) delete r.ms;
    return j;
  };

  it('parallel (2 workers) equals serial, and the JSON has one entry per task', () => {
    const a = cimm('compare', ...small, '--steps', '15', '--workers', '2', '--json', '--out', tmp());
    const b = cimm('compare', ...small, '--steps', '15', '--workers', '0', '--json', '--out', tmp());
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const ja = numbers(a.stdout);
    expect(ja).toEqual(numbers(b.stdout));
    expect(ja.tasks.map((t: { name: string }) => t.name)).toEqual(['least-squares', 'iris', 'cliff-walking']);
    for (const t of ja.tasks)
      expect(Object.keys(t)).toEqual(expect.arrayContaining(['name', 'target', 'runs', 'summary']));
    expect(ja.complete).toBe(true);
    expect(ja.summary.selfTuning.map((s: { optimizer: string }) => s.optimizer)).toEqual(['SGD', 'Adam', 'fixed']);
  }, 120_000);

  it('SIGINT after the first run: exit 130 and a partial report', async () => {
    const out = tmp();
    const child = spawn(
      process.execPath,
      [bin, 'compare', ...small, '--steps', '400', '--workers', '1', '--verbose', '--out', out],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const code = await new Promise<number | null>((done) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/run 1\//.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => done(c));
    });
    expect(code).toBe(130);
    expect(stdout).toMatch(/interrupted/);
    expect(existsSync(join(out, 'report.md'))).toBe(true);
    const j = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(j.complete).toBe(false);
    expect(j.jobs.done).toBeGreaterThanOrEqual(1);
    expect(j.jobs.done).toBeLessThan(j.jobs.total);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/Partial report/);
  }, 120_000);
});
