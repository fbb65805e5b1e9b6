import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (p: string) => fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url));

// Tests run against the sources of our packages (no build needed) and against the
// same CommonJS tfjs-core that a plain `node` user loads, so gradients registered by
// @cut/core-tensors are the ones under test.
export default defineConfig({
  resolve: {
    alias: {
      '@cut/backends': pkg('backends'),
      '@cut/core-tensors': pkg('core-tensors'),
      '@cut/native-kernels': pkg('native-kernels'),
      '@cut/nce-loss': pkg('nce-loss'),
      '@cut/metrics': pkg('metrics'),
      '@cut/patch-sampler': pkg('patch-sampler'),
      '@cut/networks': pkg('networks'),
      '@cut/images': pkg('images'),
      '@cut/files': pkg('files'),
      '@cut/trainer': pkg('trainer'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
