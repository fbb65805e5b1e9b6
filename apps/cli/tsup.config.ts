import { defineConfig } from 'tsup';

// The CLI ships as one ESM entry with a shebang; packages stay external. lib.js is the package's
// import entry (main, loadBackend; importing it runs nothing). The worker of `cutjs translate
// --threads 2` is its own entry, and so is the thread `cutjs train` trains on. Backends load
// through @cut/backends (Dawn stays a package of its own there).
export default defineConfig({
  entry: { index: 'src/index.ts', lib: 'src/lib.ts', 'translate-worker': 'src/translate-worker.ts', 'train-worker': 'src/train-worker.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  banner: { js: '#!/usr/bin/env node' },
  // An optional dependency (--runtime onnx): imported when asked for, from the user's node_modules.
  external: ['onnxruntime-node'],
});
