// The pretrained download against a real HTTP server on 127.0.0.1 serving a tarball laid out as
// the authors' pretrained_models.tar: a good download, a damaged one, a truncated one, a 404,
// an unreachable host, the cache, and `cutjs translate --pretrained` end to end.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineGenerator, encodeNetworkWeights } from '@cut/networks';
import { H2Z_TINY, cli, tempDir } from './cli-test-utils.js';
import { fetchPretrained, installPretrainedFrom, type PretrainedModel } from './pretrained.js';

const MEMBER = 'checkpoints/h2z_tiny/latest_net_G.pth';
let server: Server;
let base = '';
let good: Buffer;
let hits = 0;

/** A tarball made by GNU tar (folders, a long-named file beside the weights): the authors' layout. */
function makeTarball(files: Record<string, Uint8Array>): Buffer {
  const stage = tempDir('cutjs-tar-');
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(stage, path, '..'), { recursive: true });
    writeFileSync(join(stage, path), data);
  }
  const out = join(stage, 'out.tar');
  execFileSync('tar', ['-cf', out, '-C', stage, 'checkpoints']);
  return readFileSync(out);
}

const model = (url: string): PretrainedModel => ({
  name: 'h2z_tiny',
  description: 'test',
  url,
  member: MEMBER,
  options: { netG: 'resnet_6blocks', ngf: '8' },
});

beforeAll(async () => {
  const weights = readFileSync(join(H2Z_TINY, 'latest_net_G.pth'));
  good = makeTarball({ [MEMBER]: weights, [`checkpoints/${'x'.repeat(120)}/notes.txt`]: new TextEncoder().encode('a long name') });
  // A flipped byte in the middle of the weights (inside a tensor's storage), size unchanged.
  const broken = Buffer.from(good);
  const at = broken.indexOf(weights.subarray(0, 64)) + Math.floor(weights.length / 2);
  broken[at] = broken[at]! ^ 0xff;
  server = createServer((req, res) => {
    hits++;
    const send = (body: Buffer) => res.writeHead(200, { 'content-length': body.length }).end(body);
    if (req.url === '/good.tar') send(good);
    else if (req.url === '/broken.tar') send(broken);
    else if (req.url === '/truncated.tar') {
      // Announces the whole file, sends a third of it, then the connection drops.
      res.writeHead(200, { 'content-length': good.length });
      res.write(good.subarray(0, Math.floor(good.length / 3)), () => res.socket?.destroy());
    } else res.writeHead(404).end('not here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('pretrained download (local HTTP server)', () => {
  it('downloads with progress, unpacks the generator, then serves it from the cache', async () => {
    const cache = tempDir();
    const seen: number[] = [];
    const opts = { cacheDir: cache, models: [model(`${base}/good.tar`)], onProgress: (n: number, total?: number) => seen.push(n, total ?? -1) };
    const first = await fetchPretrained('h2z_tiny', opts);
    expect(first.downloaded).toBe(true);
    expect(readFileSync(join(first.dir, 'latest_net_G.pth')).equals(readFileSync(join(H2Z_TINY, 'latest_net_G.pth')))).toBe(true);
    expect(readFileSync(join(first.dir, 'train_opt.txt'), 'utf8')).toMatch(/netG: resnet_6blocks/);
    expect(seen.at(-2)).toBe(good.length);
    expect(seen.at(-1)).toBe(good.length);
    expect(readdirSync(join(cache, 'pretrained', 'downloads'))).toEqual([]); // the tarball is not kept
    const before = hits;
    const again = await fetchPretrained('h2z_tiny', opts);
    expect(again).toMatchObject({ downloaded: false, dir: first.dir });
    expect(hits).toBe(before);
    // A cached file that changed is downloaded again.
    writeFileSync(join(first.dir, 'latest_net_G.pth'), 'changed');
    expect((await fetchPretrained('h2z_tiny', opts)).downloaded).toBe(true);
  });

  it('refuses a checksum mismatch and keeps nothing', async () => {
    const cache = tempDir();
    const url = `${base}/good.tar`;
    await expect(fetchPretrained('h2z_tiny', { cacheDir: cache, models: [model(url)], checksums: { [url]: '0'.repeat(64) } })).rejects.toThrow(
      /SHA-256 .* expected 0000/,
    );
    expect(existsSync(join(cache, 'pretrained', 'h2z_tiny'))).toBe(false);
    expect(readdirSync(join(cache, 'pretrained', 'downloads'))).toEqual([]);
  });

  it('refuses a damaged download (no checksum known) and keeps nothing', async () => {
    const cache = tempDir();
    await expect(fetchPretrained('h2z_tiny', { cacheDir: cache, models: [model(`${base}/broken.tar`)] })).rejects.toThrow(
      /latest_net_G\.pth is damaged .*CRC-32/,
    );
    expect(existsSync(join(cache, 'pretrained', 'h2z_tiny', 'latest_net_G.pth'))).toBe(false);
  });

  it('refuses a truncated download, saying how much came', async () => {
    const cache = tempDir();
    await expect(fetchPretrained('h2z_tiny', { cacheDir: cache, models: [model(`${base}/truncated.tar`)] })).rejects.toThrow(
      new RegExp(`broke off after \\d+ of ${good.length} bytes|truncated: \\d+ of ${good.length} bytes`),
    );
    expect(readdirSync(join(cache, 'pretrained', 'downloads'))).toEqual([]);
  });

  it('says what the server answered, and what to do when the host cannot be reached', async () => {
    const cache = tempDir();
    await expect(fetchPretrained('h2z_tiny', { cacheDir: cache, models: [model(`${base}/missing.tar`)] })).rejects.toThrow(/answered 404/);
    // A port nothing listens on: the same error Node gives for a machine without network.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(fetchPretrained('h2z_tiny', { cacheDir: cache, models: [model(`http://127.0.0.1:${port}/x.tar`)] })).rejects.toThrow(
      /ECONNREFUSED\. Is this machine offline.*--from <file>/,
    );
    await expect(fetchPretrained('nope', { cacheDir: cache, models: [model(base)] })).rejects.toThrow(
      /no pretrained model 'nope' \(there are: h2z_tiny\)/,
    );
  });

  it('installs from a tarball downloaded by hand, and refuses a truncated one', async () => {
    const cache = tempDir();
    const file = join(cache, 'pretrained_models.tar');
    writeFileSync(file, good);
    expect(await installPretrainedFrom(file, { cacheDir: cache, url: 'u', models: [model('u')] })).toEqual(['h2z_tiny']);
    writeFileSync(file, good.subarray(0, 4096));
    await expect(installPretrainedFrom(file, { cacheDir: tempDir(), url: 'u', models: [model('u')] })).rejects.toThrow(
      /ends inside .*truncated at 4096 bytes/,
    );
  });
});

describe('cutjs translate --pretrained (local mirror)', () => {
  it('downloads the named model once and translates with it', async () => {
    // The authors' layout with a default-architecture generator (resnet_9blocks, ngf 64).
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const G = defineGenerator('resnet_9blocks', { seed: 3 });
    const weights = await encodeNetworkWeights(G);
    G.dispose();
    const tar = makeTarball({ 'checkpoints/horse2zebra_cut_pretrained/latest_net_G.pth': weights });
    const mirror = join(tempDir(), 'pretrained_models.tar');
    writeFileSync(mirror, tar);
    const local = createServer((_req, res) => res.writeHead(200, { 'content-length': tar.length }).end(tar));
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    const cache = tempDir();
    const env = { CUT_CACHE_DIR: process.env.CUT_CACHE_DIR, CUT_PRETRAINED_URL: process.env.CUT_PRETRAINED_URL };
    process.env.CUT_CACHE_DIR = cache;
    process.env.CUT_PRETRAINED_URL = `http://127.0.0.1:${(local.address() as AddressInfo).port}/pretrained_models.tar`;
    try {
      const out = tempDir();
      const photo = join(out, 'horse.jpg');
      copyFileSync(join(H2Z_TINY, 'testA', readdirSync(join(H2Z_TINY, 'testA')).sort()[0]!), photo);
      const r = await cli([
        'translate',
        photo,
        '--pretrained',
        'horse2zebra_cut_pretrained',
        '--out',
        join(out, 'png'),
        '--backend',
        'wasm',
        '--threads',
        '1',
      ]);
      expect(r.stderr).toMatch(/downloading: .* MB \(100%\)/);
      expect(r.code).toBe(0);
      expect(existsSync(join(out, 'png', 'horse.png'))).toBe(true);
      const list = await cli(['pretrained', 'list']);
      expect(list.stdout).toMatch(/horse2zebra_cut_pretrained .*\(in the cache\)/);
      const unknown = await cli(['translate', photo, '--pretrained', 'zebra']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/--pretrained: no model 'zebra'/);
    } finally {
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await new Promise<void>((r) => local.close(() => r()));
    }
  }, 120_000);
});
