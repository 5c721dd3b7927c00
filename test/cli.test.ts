/**
 * The cimm command line, run as a child process on the built dist (built once here with
 * tsc -p tsconfig.build.json): exit codes, --json shapes, usage errors, parallel == serial,
 * and SIGINT (exit 130 with a partial report).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    [['train', '--task', 'cliff-walking', '--optimizer', 'inverse-visit-count', '--lr', '0.3']],
    [['train', '--task', 'cliff-walking', '--optimizer', 'entropy-balanced', '--lr', '7']],
    [['train', '--task', 'rosenbrock', '--optimizer', 'Adam', '--batch-size', '4']],
    [['train', '--task', 'iris', '--optimizer', 'Adam', '--batch-size', '4', '--full-batch']],
    [['train', '--task', 'iris', '--optimizer', 'Adam', '--batch-size', '0']],
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
    // the comparison's regime by default: iris in batches of 16, 8 an epoch
    expect(j).toMatchObject({ batchSize: 16, batchCount: 8 });
    expect(j.target.metric).toBe('testAccuracy');
    expect(j.curve.at(-1).step).toBe(30);
    expect(j).toMatchObject({ stepsDone: 30, interrupted: false, resumedFrom: null, checkpoint: ckpt });
    const saved = JSON.parse(readFileSync(ckpt, 'utf8'));
    expect(saved).toMatchObject({
      format: 'cimm-task-run',
      version: 2,
      step: 30,
      job: { task: 'iris', lr: 0.01, taskOptions: { batchSize: 16 } },
      batches: { count: 8 },
    });
    expect(saved.curve.at(-1).metric).toBe(j.finalMetric);
    expect(readdirSync(dir)).toEqual(['run.json']);
    // resuming a finished run changes nothing
    const again = cimm('train', '--resume', ckpt, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ curve: j.curve, finalMetric: j.finalMetric, stepsDone: 30 });
    // deterministic for a seed
    expect(JSON.parse(cimm(...args, '--json').stdout).curve).toEqual(j.curve);
  });

  it('--batch-size N and --full-batch set the regime; a resume must not change it', () => {
    const args = ['train', '--task', 'iris', '--optimizer', 'Adam', '--lr', '0.01', '--steps', '10', '--json'];
    const full = JSON.parse(cimm(...args, '--full-batch').stdout);
    expect(full).toMatchObject({ batchSize: null, batchCount: 1 });
    const eight = JSON.parse(cimm(...args, '--batch-size', '8').stdout);
    expect(eight).toMatchObject({ batchSize: 8, batchCount: 15 });
    expect(eight.curve).not.toEqual(full.curve);
    const rosen = JSON.parse(
      cimm('train', '--task', 'rosenbrock', '--optimizer', 'Adam', '--steps', '5', '--json').stdout,
    );
    expect(rosen).toMatchObject({ batchSize: null, batchCount: 1 });
    const ckpt = join(tmp(), 'run.json');
    expect(cimm(...args, '--batch-size', '8', '--checkpoint', ckpt).code).toBe(0);
    const r = cimm('train', '--resume', ckpt, '--batch-size', '16');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--batch-size 16 does not match the checkpoint's batch-size 8/);
    expect(cimm('train', '--resume', ckpt, '--full-batch').code).toBe(2);
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

describe('cimm train --resume', () => {
  const base = ['train', '--task', 'least-squares', '--optimizer', 'Adam', '--lr', '0.01', '--seed', '1'];

  it('a bad or mismatched checkpoint is a usage error (exit 2) naming the problem', () => {
    const dir = tmp();
    const ckpt = join(dir, 'c.json');
    expect(cimm(...base, '--steps', '5', '--checkpoint', ckpt).code).toBe(0);
    const bad = join(dir, 'bad.json');
    const cases: [string[], RegExp][] = [
      [['--resume', join(dir, 'missing.json')], /cannot read/],
      [['--resume', ckpt, '--task', 'iris'], /--task iris does not match the checkpoint's task least-squares/],
      [['--resume', ckpt, '--optimizer', 'SGD'], /--optimizer SGD does not match/],
      [['--resume', ckpt, '--lr', '0.1'], /--lr 0.1 does not match/],
      [['--resume', ckpt, '--seed', '2'], /--seed 2 does not match/],
      [['--resume', ckpt, '--steps', '3'], /--steps must be an integer ≥ 5/],
      [['--resume', bad], /checkpoint\.theta/],
    ];
    const body = JSON.parse(readFileSync(ckpt, 'utf8'));
    writeFileSync(bad, JSON.stringify({ ...body, theta: 'AAAA' }));
    for (const [args, message] of cases) {
      const r = cimm('train', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    writeFileSync(bad, '{"format": "cimm-task-run", "vers');
    expect(cimm('train', '--resume', bad).stderr).toMatch(/cannot read a JSON checkpoint/);
    // options that agree with the checkpoint are fine
    expect(cimm(...base, '--resume', ckpt, '--steps', '8').code).toBe(0);
  });

  it('SIGINT: exit 130, a complete checkpoint, and a resume that lands where an uninterrupted run does', async () => {
    const dir = tmp();
    const ckpt = join(dir, 'run.json');
    const child = spawn(
      process.execPath,
      [bin, ...base, '--steps', '10000000', '--checkpoint', ckpt, '--checkpoint-every', '100', '--json'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    // signal once the first periodic checkpoint is on disk
    while (!existsSync(ckpt)) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const j = JSON.parse(stdout);
    expect(j.interrupted).toBe(true);
    expect(j.stepsDone).toBeGreaterThanOrEqual(100);
    expect(j.stepsDone).toBeLessThan(10_000_000);
    expect(readdirSync(dir)).toEqual(['run.json']);
    const saved = JSON.parse(readFileSync(ckpt, 'utf8'));
    expect(saved.step).toBe(j.stepsDone);
    // resume (to a shorter end) and compare with a fresh run of that length
    const end = String(j.stepsDone + 25);
    const resumed = cimm('train', '--resume', ckpt, '--steps', end, '--json');
    expect(resumed.code).toBe(0);
    const r = JSON.parse(resumed.stdout);
    expect(r).toMatchObject({
      interrupted: false,
      stepsDone: Number(end),
      resumedFrom: { path: ckpt, step: j.stepsDone },
    });
    const fresh = JSON.parse(cimm(...base, '--steps', end, '--json').stdout);
    expect(r.finalLoss).toBe(fresh.finalLoss);
    expect(r.finalMetric).toBe(fresh.finalMetric);
    expect(JSON.parse(readFileSync(ckpt, 'utf8')).step).toBe(Number(end));
  }, 120_000);
});

describe('cimm compare', () => {
  // iris, least-squares, mnist and movie-ratings run in mini-batches (the pool must
  // reproduce each run's batch order), cliff-walking in episodes
  const small = [
    '--quick',
    '--tasks',
    'least-squares,iris,cliff-walking,mnist,movie-ratings',
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
    expect(ja.tasks.map((t: { name: string }) => t.name)).toEqual([
      'least-squares',
      'iris',
      'cliff-walking',
      'mnist',
      'movie-ratings',
    ]);
    expect(ja.tasks.map((t: { regime: { batchSize: number | null } }) => t.regime.batchSize)).toEqual([
      20,
      16,
      null,
      64,
      32,
    ]);
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
