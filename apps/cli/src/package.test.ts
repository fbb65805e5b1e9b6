// @cut/cli as an installed package: its import entry runs nothing, and the demo's photos come
// from @cut/demo-data (not from a folder relative to the working directory).
// Needs `pnpm build` (the root `pnpm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { horse2zebraDemo } from '@cut/demo-data';
import { describe, expect, it } from 'vitest';
import { DEMO_PRESET } from './cmd-demo.js';
import { DEMO, ROOT } from './cli-test-utils.js';

const LIB = join(ROOT, 'apps/cli/dist/lib.js');

describe.skipIf(!existsSync(LIB))("the package's import entry (exports['.'], dist/lib.js)", () => {
  it('exports main and loadBackend and runs no command when imported', () => {
    // By name, as a user imports it (the package resolves itself through its exports map).
    const code = `import('@cut/cli').then((m) => console.log(Object.keys(m).sort().join(' ')))`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: join(ROOT, 'apps/cli') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('BACKENDS EXIT UsageError loadBackend main\n');
  });
});

describe('cutjs demo photos', () => {
  it('default to the @cut/demo-data folder: the repository photos, byte for byte', () => {
    expect(DEMO_PRESET.dataroot).toBe(horse2zebraDemo);
    expect(isAbsolute(horse2zebraDemo)).toBe(true);
    expect(horse2zebraDemo).toBe(join(ROOT, 'packages/demo-data/dist/horse2zebra_demo'));
    for (const [folder, count] of [
      ['trainA', 24],
      ['trainB', 24],
      ['testA', 5],
      ['testB', 5],
    ] as const) {
      const names = readdirSync(join(horse2zebraDemo, folder)).sort();
      expect(names).toEqual(readdirSync(join(DEMO, folder)).sort());
      expect(names).toHaveLength(count);
      for (const name of names) {
        expect(readFileSync(join(horse2zebraDemo, folder, name)).equals(readFileSync(join(DEMO, folder, name)))).toBe(true);
      }
    }
    expect(readFileSync(join(horse2zebraDemo, 'SOURCE.md'), 'utf8')).toContain('non-commercial');
  });
});
