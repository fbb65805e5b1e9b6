import { defineConfig } from 'tsup';

// ESM and CommonJS builds with type declarations; dependencies stay external. tsup bundles
// optionalDependencies unless told otherwise: Dawn must stay a package of its own so it finds its
// native dawn.node beside itself. `shims` gives the CommonJS build the import.meta.url it resolves
// packages from.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'es2022',
  external: ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
});
