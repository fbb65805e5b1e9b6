// Builds the oneDNN addon from source when it can: oneDNN's headers and library (Debian:
// libdnnl-dev; elsewhere DNNL_ROOT=<prefix>), a C++ compiler and Node's headers on this
// machine. Never downloads anything and never fails: without them the package runs the
// wasm kernels and says why. CUT_NATIVE_BUILD=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const quiet = process.argv.includes('--quiet-if-missing');
const say = (msg) => console.log(`@cut/native-kernels: ${msg}`);

function skip(reason) {
  if (!quiet) say(`not built (${reason}); the wasm kernels will run instead`);
  process.exit(0);
}

if (process.env.CUT_NATIVE_BUILD === '0') skip('CUT_NATIVE_BUILD=0');
if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`no build recipe for ${process.platform}`);

const dnnlRoot = process.env.DNNL_ROOT;
const headerDirs = [dnnlRoot && join(dnnlRoot, 'include'), '/usr/include', '/usr/local/include', '/opt/homebrew/include'].filter(Boolean);
if (!headerDirs.some((d) => existsSync(join(d, 'oneapi/dnnl/dnnl.hpp')))) {
  skip(`oneDNN headers not found (oneapi/dnnl/dnnl.hpp in ${headerDirs.join(', ')}); install libdnnl-dev or set DNNL_ROOT`);
}
const cxx = process.env.CXX ?? 'c++';
if (spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status !== 0) skip(`no C++ compiler ('${cxx}')`);

// Node's headers from this machine only (node-gyp would otherwise download them).
const nodedir = ['/usr', join(dirname(process.execPath), '..')].find((d) => existsSync(join(d, 'include/node/node_api.h')));
if (!nodedir) skip(`Node's headers (include/node/node_api.h) not found beside ${process.execPath} or in /usr`);

// Up to date (e.g. `pnpm build` right after the install built it): nothing to do.
const built = join(root, 'build/Release/cut_native_kernels.node');
const newest = Math.max(...['native/conv.cc', 'native/eltwise.cc', 'binding.gyp'].map((f) => statSync(join(root, f)).mtimeMs));
if (existsSync(built) && statSync(built).mtimeMs > newest && process.env.CUT_NATIVE_REBUILD !== '1') {
  if (!quiet) say('build/Release/cut_native_kernels.node is up to date (CUT_NATIVE_REBUILD=1 rebuilds it)');
  process.exit(0);
}

let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  skip('node-gyp is not installed');
}
const t0 = Date.now();
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.status !== 0) {
  const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-12).join('\n');
  say(`build failed; the wasm kernels will run instead:\n${tail}`);
  process.exit(0);
}
say(`built build/Release/cut_native_kernels.node in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
