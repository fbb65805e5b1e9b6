// The `cutjs` binary: runs `main` on the process's arguments and exits with its code.
import { main } from './main.js';

main(process.argv.slice(2), { handleSigint: true }).then(
  (code) => {
    process.exitCode = code;
    // Backends (WebGPU's device, wasm threads) may keep the event loop alive: leave once output is flushed.
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    console.error(`cutjs: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
