// `cutjs translate` on a hostile model folder (issue 22): a model.json whose weights path leads out of
// its folder is refused (before, the file outside was read and used as weights, exit 0); options for a
// network far larger than the checkpoint are refused before the network is built.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBackend } from '@cut/backends';
import { loadReferenceCheckpoint, saveTfjsModel } from '@cut/files';
import { H2Z_TINY, cli, tempDir } from './cli-test-utils.js';

describe('cutjs translate on hostile checkpoints', () => {
  it("refuses a model.json whose weights path leads out of the model's folder, and reads nothing there", async () => {
    await loadBackend('cpu');
    const work = tempDir();
    const dir = join(work, 'downloads', 'model');
    const ck = loadReferenceCheckpoint(H2Z_TINY);
    const paths = await saveTfjsModel(ck.G, dir);
    ck.dispose();
    // The real weights, moved beside the folder: exactly what the manifest needs.
    mkdirSync(join(work, 'secret'));
    copyFileSync(paths.weights, join(work, 'secret', 'stolen.bin'));
    const json = JSON.parse(readFileSync(paths.modelJson, 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['../../secret/stolen.bin'];
    writeFileSync(paths.modelJson, JSON.stringify(json));
    const image = join(H2Z_TINY, 'testA', readdirSync(join(H2Z_TINY, 'testA'))[0]!);
    const out = join(work, 'out');
    const r = await cli(['translate', image, '--checkpoint', paths.modelJson, '--out', out, '--backend', 'cpu']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${paths.modelJson}: weight path "../../secret/stolen.bin" leads out of the model's folder ('..')`);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('refuses --ngf 100000 for a small checkpoint before building the generator', async () => {
    const image = join(H2Z_TINY, 'testA', readdirSync(join(H2Z_TINY, 'testA'))[0]!);
    const t0 = Date.now();
    const r = await cli(['translate', image, '--checkpoint', H2Z_TINY, '--ngf', '100000', '--out', join(tempDir(), 'out'), '--backend', 'cpu']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /latest_net_G\.pth: \d+ bytes cannot hold the \d+\+ weights of a ResnetGenerator configured by .* \(.*ngf 100000, nBlocks 6\b/,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
