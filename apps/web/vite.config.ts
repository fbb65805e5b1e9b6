import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { horse2zebraModelDir } from '@cut/model-horse2zebra';
import { defineConfig, type Plugin } from 'vite';

// The page is static files (`dist/`): no server code. The guard below fails the build when a
// module of ours (@cut/*) imports a Node built-in, so @cut/networks and @cut/core-tensors are
// known to bundle for the browser without Node polyfills.
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function noNodeBuiltinsInOurPackages(): Plugin {
  return {
    name: 'cut-no-node-builtins',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!importer || !nodeBuiltins.has(source)) return null;
      const ours = /[\\/](packages|apps)[\\/][^\\/]+[\\/](src|dist)[\\/]/.test(importer) && !/node_modules/.test(importer);
      if (ours) this.error(`${importer} imports the Node built-in '${source}': the browser bundle must not need it`);
      return null;
    },
  };
}

/**
 * The horse2zebra model (package @cut/model-horse2zebra) beside the page as plain files, so its
 * one-click button works on any static host: models/horse2zebra/ in the build and the dev server.
 */
function shippedModel(): Plugin {
  const files = ['latest_net_G.pth', 'train_opt.txt', 'card.json'];
  const at = (name: string) => `models/horse2zebra/${name}`;
  return {
    name: 'cut-shipped-model',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = files.find((f) => req.url?.endsWith(`/${at(f)}`));
        if (!name) return next();
        res.setHeader('Content-Type', name.endsWith('.pth') ? 'application/octet-stream' : 'text/plain');
        res.end(readFileSync(join(horse2zebraModelDir, name)));
      });
    },
    generateBundle() {
      for (const name of files) this.emitFile({ type: 'asset', fileName: at(name), source: readFileSync(join(horse2zebraModelDir, name)) });
    },
  };
}

/**
 * Cross-origin isolation: with these two headers the page gets SharedArrayBuffer, and
 * onnxruntime-web runs wasm on several threads (without them, on one). A static host must send
 * the same two (README, 'Host it').
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

export default defineConfig({
  base: './',
  plugins: [noNodeBuiltinsInOurPackages(), shippedModel()],
  server: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  // onnxruntime-web finds its .wasm and .mjs by the URLs the page gives (src/onnx.ts); the dev
  // server's pre-bundling would move it away from them.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 4096 },
});
