import { defineConfig } from 'tsup';

// ESM and CommonJS builds with type declarations (`shims` gives the CJS build import.meta.url).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'es2022',
});
