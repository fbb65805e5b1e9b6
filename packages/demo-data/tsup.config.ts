import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

// The photos live once in the repository (datasets/horse2zebra_demo, used by tests and benches);
// the build copies them into dist/ beside the code that points at them, and checks every file
// against SHA256SUMS so the package can only ship the unmodified originals.
const from = join(import.meta.dirname, '../../datasets/horse2zebra_demo');
const to = join(import.meta.dirname, 'dist/horse2zebra_demo');

function copyPhotos(): void {
  cpSync(from, to, { recursive: true });
  const sums = readFileSync(join(to, 'SHA256SUMS'), 'utf8').trim().split('\n');
  for (const line of sums) {
    const [hash, name] = line.split(/\s+\*?/) as [string, string];
    const actual = createHash('sha256')
      .update(readFileSync(join(to, name)))
      .digest('hex');
    if (actual !== hash) throw new Error(`demo-data: ${join(from, name)} does not match its SHA256SUMS entry`);
  }
  console.log(`demo-data: copied ${sums.length} photos (checked against SHA256SUMS) to dist/horse2zebra_demo`);
}

// ESM and CommonJS builds with type declarations (`shims` gives the CJS build import.meta.url).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'es2022',
  onSuccess: async () => copyPhotos(),
});
