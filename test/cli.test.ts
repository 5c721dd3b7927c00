/**
 * The cimm command line, run as a child process on a build of its own (tsc -p
 * tsconfig.build.json into build/cli-test, so it never rewrites dist/ while other suites
 * spawn bin/cimm from it): exit codes, --json shapes, usage errors, parallel == serial,
 * and SIGINT (exit 130 with a partial report).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointText } from '../lib/train/checkpoint.js';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'build', 'cli-test');
const bin = join(out, 'lib', 'cli', 'main.js');

beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}, 180_000);

function cimm(...args: string[]) {
  return cimmWith({}, ...args);
}

/** Run with extra environment variables (undefined removes one) and Node options before the script. */
function cimmWith(env: Record<string, string | undefined>, ...args: string[]) {
  const { nodeOptions, ...vars } = env;
  const merged: Record<string, string | undefined> = { ...process.env, CIMM_DEBUG: undefined, ...vars };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  const r = spawnSync(process.execPath, [...(nodeOptions ? nodeOptions.split(' ') : []), bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: merged as NodeJS.ProcessEnv,
  });
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

describe('cimm: version, errors, suggestions', () => {
  it('--version and -v print the package version', () => {
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
    for (const flag of ['--version', '-v']) {
      const r = cimm(flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('a mistyped task, optimizer or command gets a suggestion (exit 2)', () => {
    const cases: [string[], string][] = [
      [['train', '--task', 'iris-fractl', '--optimizer', 'Adam'], 'did you mean "iris-fractal"?'],
      [['train', '--task', 'iris', '--optimizer', 'adam'], 'did you mean "Adam"?'],
      [['compare', '--optimizers', 'Adam,Prodgy'], 'did you mean "Prodigy"?'],
      [['trian'], "unknown command 'trian'; did you mean train?"],
    ];
    for (const [args, hint] of cases) {
      const r = cimm(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toContain(hint);
    }
    expect(cimm('train', '--task', 'iris', '--optimizer', 'Nadamax').stderr).not.toMatch(/did you mean/);
  });

  it('a bad CIMM_BACKEND is a usage error on one line, no stack', () => {
    const r = cimmWith({ CIMM_BACKEND: 'rsut' }, 'info');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'cimm: CIMM_BACKEND=rsut is not a backend; did you mean "rust"? (known: rust, cpp, wasm, js; unset it to choose automatically)',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a forced backend that cannot load: exit 1 with the causes and fixes, no stack', () => {
    const r = cimmWith(
      { CIMM_BACKEND: 'cpp', CIMM_CPP_ADDON: '/nonexistent/cimm_cpp.node' },
      'train',
      '--task',
      'iris',
      '--optimizer',
      'Adam',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cimm: the cpp backend was requested \(CIMM_BACKEND=cpp\) but could not be loaded on /);
    expect(r.stderr).toContain(
      'cause: the C++ addon is not built: CIMM_CPP_ADDON=/nonexistent/cimm_cpp.node does not exist',
    );
    expect(r.stderr).toContain('    - build it: `npm run build:cpp`');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('--checkpoint: a missing directory or a directory is refused before the run, nothing created', () => {
    const dir = tmp();
    const missing = join(dir, 'nope', 'run.json');
    const r = cimm('train', '--task', 'iris', '--optimizer', 'Adam', '--checkpoint', missing);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `cimm: --checkpoint ${missing}: the directory ${join(dir, 'nope')} does not exist (create it first)`,
    );
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    const isDir = cimm('train', '--task', 'iris', '--optimizer', 'Adam', '--checkpoint', dir);
    expect(isDir.code).toBe(2);
    expect(isDir.stderr).toMatch(/is a directory; name a file in it/);
    const out = cimm('compare', '--quick', '--tasks', 'iris', '--out', join(dir, 'a', 'b'));
    expect(out.code).toBe(2);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    writeFileSync(join(dir, 'file'), '');
    const onFile = cimm('compare', '--quick', '--tasks', 'iris', '--out', join(dir, 'file'));
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toMatch(/is a file, not a directory/);
  });

  it.runIf(process.platform === 'linux')(
    'an unwritable --checkpoint is refused before the training (exit 2, naming it), never a hang',
    () => {
      // /proc exists but no file can be created in it, not even by root; /proc/nope does not
      // exist (Node's recursive mkdir spins for ever there)
      for (const path of ['/proc/cimm-test.json', '/proc/nope/x.json']) {
        const args = ['train', '--task', 'least-squares', '--optimizer', 'Adam', '--steps', '4', '--checkpoint', path];
        const r = cimm(...args);
        expect(r.code, path).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines[0]).toMatch(/^cimm: --checkpoint \/proc\//);
        expect(lines[0]).toMatch(/a file cannot be created in \/proc|the directory \/proc\/nope does not exist/);
        // a hang is killed by the spawn's timeout: no exit code, the test fails
        expect(r.stdout).toBe('');
      }
    },
  );

  it('build-native is listed in the help, bench too in a checkout', () => {
    const r = cimm('--help');
    expect(r.stdout).toMatch(/build-native/);
    expect(r.stdout).toMatch(/bench/);
  });
});

describe('cimm info', () => {
  it('--json describes the backend', () => {
    const r = cimm('info', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ name: expect.any(String), simdPath: expect.any(String), threads: expect.any(Number) });
    expect(Array.isArray(j.cpuFeatures)).toBe(true);
    expect(j.backends.map((b: { name: string }) => b.name)).toEqual(['rust', 'cpp', 'wasm', 'js']);
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
      format: 'cimm-checkpoint',
      version: 2,
      kind: 'task-run',
      body: {
        step: 30,
        job: { task: 'iris', lr: 0.01, taskOptions: { batchSize: 16 } },
        batches: { count: 8 },
      },
    });
    expect(saved.body.curve.at(-1).metric).toBe(j.finalMetric);
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
      [['--resume', bad], /body\.theta/],
    ];
    const saved = JSON.parse(readFileSync(ckpt, 'utf8'));
    // an edited body fails its checksum; re-signed, the field itself is refused by name
    writeFileSync(bad, JSON.stringify({ ...saved, body: { ...saved.body, theta: 'AAAA' } }));
    expect(cimm('train', '--resume', bad).stderr).toMatch(/does not match its SHA-256/);
    writeFileSync(bad, checkpointText('task-run', { ...saved.body, theta: 'AAAA' }));
    for (const [args, message] of cases) {
      const r = cimm('train', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    writeFileSync(bad, '{"format": "cimm-task-run", "vers');
    expect(cimm('train', '--resume', bad).stderr).toMatch(/--resume .*bad\.json: not a usable checkpoint: .*not JSON/);
    // options that agree with the checkpoint are fine
    expect(cimm(...base, '--resume', ckpt, '--steps', '8').code).toBe(0);
  });

  it('absurd numbers in a (re-signed) checkpoint: exit 2 at once, naming the file and the field', () => {
    const dir = tmp();
    const ckpt = join(dir, 'c.json');
    expect(cimm(...base, '--steps', '5', '--checkpoint', ckpt).code).toBe(0);
    const saved = JSON.parse(readFileSync(ckpt, 'utf8'));
    const bad = join(dir, 'absurd.json');
    // biome-ignore lint/suspicious/noExplicitAny: the cases rewrite arbitrary fields of checkpoint JSON
    const cases: [string, (b: Record<string, any>) => object, string][] = [
      ['job.points = 1e15', (b) => ({ ...b, job: { ...b.job, points: 1e15 } }), 'body.job.points'],
      ['job.steps = 1e15', (b) => ({ ...b, job: { ...b.job, steps: 1e15 } }), 'body.job.steps'],
      ['job.steps = -3', (b) => ({ ...b, job: { ...b.job, steps: -3 } }), 'body.job.steps'],
      ['job.steps = 7.5', (b) => ({ ...b, job: { ...b.job, steps: 7.5 } }), 'body.job.steps'],
      ['step = 1e15', (b) => ({ ...b, step: 1e15 }), 'body.step'],
      ['step = 2.5', (b) => ({ ...b, step: 2.5 }), 'body.step'],
      ['job.seed = -1', (b) => ({ ...b, job: { ...b.job, seed: -1 } }), 'body.job.seed'],
      [
        'taskOptions.rows = 1e15',
        (b) => ({ ...b, job: { ...b.job, taskOptions: { ...b.job.taskOptions, rows: 1e15 } } }),
        'body.job.taskOptions.rows',
      ],
    ];
    for (const [name, edit, field] of cases) {
      writeFileSync(bad, checkpointText('task-run', edit(saved.body)));
      const r = cimm('train', '--resume', bad);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toContain(`--resume ${bad}: not a usable checkpoint: cimm: checkpoint ${bad}: `);
      expect(r.stderr, name).toContain(field);
      expect(r.stdout).toBe('');
    }
    // --steps past the bound on a resume is a usage error too
    const r = cimm('train', '--resume', ckpt, '--steps', '1e15');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--steps must be/);
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
    expect(saved.body.step).toBe(j.stepsDone);
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
    expect(JSON.parse(readFileSync(ckpt, 'utf8')).body.step).toBe(Number(end));
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

  it('without vega and vega-lite (optional peers) the report is written and says how to get the plots', () => {
    const out = tmp();
    const hooks = pathToFileURL(join(root, 'test', 'no-plot-libraries.mjs')).href;
    const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`;
    const r = cimmWith(
      { nodeOptions: `--import ${register}` },
      'compare',
      '--quick',
      '--tasks',
      'least-squares',
      '--optimizers',
      'Adam',
      '--seeds',
      '1',
      '--steps',
      '10',
      '--out',
      out,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^note: The plots were not rendered: they need the optional peer dependencies vega and vega-lite \(`npm install vega@\^6\.\d+\.\d+ vega-lite@\^6\.\d+\.\d+`/m,
    );
    expect(readdirSync(join(out, 'plots')).sort()).toEqual([
      'least-squares-curves.vl.json',
      'least-squares-loss.vl.json',
      'least-squares-sensitivity.vl.json',
    ]);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/^> The plots were not rendered/m);
    expect(md).not.toMatch(/!\[/);
    expect(md).toContain('[vega-lite spec](plots/least-squares-curves.vl.json)');
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<blockquote>');
    expect(html).not.toContain('<svg');
  });

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
