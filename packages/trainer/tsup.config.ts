import { defineConfig } from 'tsup';

// ESM and CommonJS builds with type declarations; dependencies stay external. The worker of
// TwoThreadTrainer is its own entry (an ES module the main thread starts by URL); `shims`
// gives the CommonJS build the import.meta.url it locates the worker with.
export default defineConfig({
  entry: { index: 'src/index.ts', 'two-thread-worker': 'src/parallel/worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'es2022',
});
