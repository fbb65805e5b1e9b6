import { defineConfig } from 'vitest/config';

// The browser test: a real Chromium on the built page (run `pnpm build` first). Kept out of the
// root test run; .ci/run runs it in its own block.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 120_000 },
});
