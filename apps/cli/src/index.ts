// The `cutjs` binary: runs `main` on the process's arguments and exits with its code.
import { main } from './main.js';

// A closed pipe (`| head`, a dying tee) is an error event on the stream, not a crash: the
// command hears it through its Context (training saves and stops); later writes are dropped.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

main(process.argv.slice(2), { handleSigint: true }).then(
  (code) => {
    process.exitCode = code;
    // Backends (WebGPU's device, wasm threads) may keep the event loop alive: leave once output is flushed.
    if (process.stdout.destroyed || !process.stdout.writable) process.exit(code);
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    console.error(`cutjs: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
