// Makes the prebuilt platform package (the way sharp ships libvips): the addon built here
// plus the shared libraries it needs that a plain Linux may lack (oneDNN and what oneDNN
// links: OpenMP's libgomp, the OpenCL ICD loader), side by side. The addon's RPATH is
// $ORIGIN (binding.gyp, DT_RPATH so it also serves oneDNN's own dependencies), so they are
// found there first. Licences of each shipped library go in with them.
//   pnpm --filter @cut/native-kernels build      (builds build/Release/cut_native_kernels.node)
//   pnpm --filter @cut/native-kernels prebuilt   (writes prebuilt/<name>/ and packs it to a .tgz)
// Not committed: the directory is ~40 MB (oneDNN alone). Install the .tgz beside
// @cut/native-kernels (npm install ./cut-native-kernels-linux-x64-<version>.tgz).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const addon = join(root, 'build/Release/cut_native_kernels.node');
if (!existsSync(addon)) {
  console.error(`${addon} not found: build it first (pnpm --filter @cut/native-kernels build, with libdnnl-dev installed)`);
  process.exit(1);
}
const platform = `${process.platform}-${process.arch}`;
const name = `@cut/native-kernels-${platform}`;
const out = join(root, 'prebuilt', `native-kernels-${platform}`);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** `soname => path` of the libraries `file` needs, as the loader resolves them here. */
function needed(file) {
  const map = new Map();
  for (const line of execFileSync('ldd', [file], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (m) map.set(m[1], m[2]);
  }
  return map;
}
// Shipped: oneDNN and its non-base dependencies. glibc, libstdc++, libgcc_s and libm are the system's.
const SHIP = /^lib(dnnl|gomp|OpenCL)\.so/;
const libs = new Map([...needed(addon)].filter(([soname]) => SHIP.test(soname)));
for (const [, path] of [...libs]) for (const [s, p] of needed(path)) if (SHIP.test(s)) libs.set(s, p);
if (!libs.has('libdnnl.so.2') && ![...libs.keys()].some((s) => s.startsWith('libdnnl'))) {
  console.error('the addon does not link oneDNN (ldd shows no libdnnl): rebuild it');
  process.exit(1);
}
copyFileSync(addon, join(out, 'cut_native_kernels.node'));
const licences = [];
for (const [soname, path] of libs) {
  copyFileSync(realpathSync(path), join(out, soname));
  // Debian keeps each package's licence in /usr/share/doc/<package>/copyright.
  const debPkg = execFileSync('dpkg', ['-S', realpathSync(path)], { encoding: 'utf8' }).split(':')[0];
  const copyright = `/usr/share/doc/${debPkg}/copyright`;
  if (existsSync(copyright)) {
    copyFileSync(copyright, join(out, `LICENSE.${soname}`));
    licences.push(`LICENSE.${soname}`);
  } else console.warn(`warning: no licence file found for ${soname} (${copyright})`);
}
writeFileSync(
  join(out, 'package.json'),
  `${JSON.stringify(
    {
      name,
      version: pkg.version,
      description: `Prebuilt ${platform} addon of @cut/native-kernels with oneDNN (Apache-2.0) and the libraries it needs beside it`,
      license: 'BSD-3-Clause AND Apache-2.0',
      os: [process.platform],
      cpu: [process.arch],
      files: ['cut_native_kernels.node', ...libs.keys(), ...licences, 'README.md'],
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(out, 'README.md'),
  `# ${name}\n\nThe prebuilt addon of @cut/native-kernels for ${platform}, with ${[...libs.keys()].join(', ')} beside it ` +
    `(RPATH $ORIGIN). Made by packages/native-kernels/scripts/make-prebuilt.mjs. oneDNN is Apache-2.0; each library's licence is in LICENSE.<library>.\n`,
);
// Check: the copies resolve from this directory, not the system's.
const resolved = needed(join(out, 'cut_native_kernels.node'));
for (const soname of libs.keys()) {
  if (resolved.get(soname) !== join(out, soname))
    console.warn(`warning: ${soname} resolves to ${resolved.get(soname)}, not the copy beside the addon`);
}
const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', join(root, 'prebuilt')], { cwd: out, encoding: 'utf8' }).trim();
const mb = (f) => (statSync(f).size / 2 ** 20).toFixed(1);
console.log(`${out}: ${['cut_native_kernels.node', ...libs.keys()].map((f) => `${f} ${mb(join(out, f))} MB`).join(', ')}`);
console.log(`packed: ${join(root, 'prebuilt', basename(tgz))} (${mb(join(root, 'prebuilt', basename(tgz)))} MB)`);
