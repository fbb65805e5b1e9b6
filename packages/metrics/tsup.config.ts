import { defineConfig } from 'tsup';

// ESM and CommonJS builds with type declarations; dependencies stay external.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
