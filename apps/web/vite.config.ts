import { builtinModules } from 'node:module';
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

export default defineConfig({
  base: './',
  plugins: [noNodeBuiltinsInOurPackages()],
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 4096 },
});
