// The project's layers, checked on the sources: nothing below the apps imports from them, only
// @cut/networks' architecture files and registry name a concrete generator class, and
// `cutjs translate` loads nothing of @cut/trainer.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js|cjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm,
  )) {
    found.push((m[1] ?? m[2] ?? m[3])!);
  }
  return found;
}

const below = [...sourceFiles(join(ROOT, 'packages')), ...sourceFiles(join(ROOT, 'test-utils'))];

describe('layers', () => {
  it('finds the imports it checks (a check that cannot see imports would always pass)', () => {
    expect(specifiers(join(ROOT, 'apps/cli/src/cmd-translate.ts'))).toContain('@cut/files');
    expect(below.length).toBeGreaterThan(100);
  });

  it('nothing in packages/ or test-utils/ imports from apps/', () => {
    const offenders = below.flatMap((file) =>
      specifiers(file)
        .filter((s) => s.startsWith('.') && relative(ROOT, resolve(dirname(file), s)).startsWith('apps/'))
        .map((s) => `${relative(ROOT, file)}: ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it("only @cut/networks' architecture files and its registry name a concrete generator class", () => {
    const classes = readdirSync(join(ROOT, 'packages/networks/src/architectures'))
      .filter((f) => f.endsWith('-generator.ts'))
      .flatMap((f) =>
        [...readFileSync(join(ROOT, 'packages/networks/src/architectures', f), 'utf8').matchAll(/export class (\w+)/g)].map((m) => m[1]!),
      );
    expect(classes).toContain('ResnetGenerator');
    const allowed = (file: string) => file.startsWith('packages/networks/src/architectures/') || file === 'packages/networks/src/registry.ts';
    const sources = [...below, ...sourceFiles(join(ROOT, 'apps'))].map((f) => relative(ROOT, f)).filter((f) => !/\.test\.ts$/.test(f) && !allowed(f));
    const offenders = sources.filter((f) => classes.some((c) => new RegExp(`\\b${c}\\b`).test(readFileSync(join(ROOT, f), 'utf8'))));
    expect(offenders).toEqual([]);
  });

  it("cutjs translate's modules (its command and its worker) load nothing of @cut/trainer", () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const s of specifiers(file)) {
        if (s.startsWith('.')) visit(resolve(dirname(file), s.replace(/\.js$/, '.ts')));
        else if (s.startsWith('@cut/')) packages.add(s);
      }
    };
    visit(join(ROOT, 'apps/cli/src/cmd-translate.ts'));
    visit(join(ROOT, 'apps/cli/src/translate-worker.ts'));
    // The packages it uses must not depend on the trainer either.
    const deps = (pkg: string): string[] => {
      const dir = pkg.replace('@cut/', '');
      const json = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      return Object.keys(json.dependencies ?? {}).filter((d) => d.startsWith('@cut/'));
    };
    const closure = new Set<string>();
    const add = (pkg: string) => {
      if (closure.has(pkg)) return;
      closure.add(pkg);
      for (const d of deps(pkg)) add(d);
    };
    for (const p of packages) add(p);
    expect(closure.has('@cut/networks')).toBe(true);
    expect([...closure]).not.toContain('@cut/trainer');
  });
});
