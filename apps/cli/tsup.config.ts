import { defineConfig } from 'tsup';

// The CLI ships as one ESM entry with a shebang; packages stay external. lib.js is the package's
// import entry (main, loadBackend; importing it runs nothing). backends.js is also
// its own entry (the two-thread trainer's worker imports it to load the same backend), and so is
// the worker of `cutjs translate --threads 2`, and the thread `cutjs train` trains on.
// tsup bundles optionalDependencies unless told otherwise; Dawn must stay a package of its own so
// it finds its native dawn.node beside itself.
export default defineConfig({
  entry: { index: 'src/index.ts', lib: 'src/lib.ts', backends: 'src/backends.ts', 'translate-worker': 'src/translate-worker.ts', 'train-worker': 'src/train-worker.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  banner: { js: '#!/usr/bin/env node' },
  external: ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
});
