import { defineConfig } from 'tsup';

// The CLI ships as one ESM entry with a shebang; packages stay external.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  banner: { js: '#!/usr/bin/env node' },
});
