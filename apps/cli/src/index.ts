import { parseArgs } from 'node:util';
import { BACKENDS, loadBackend, type BackendChoice } from './backends.js';
import { runDemo } from './demo.js';

const USAGE = `cutjs: CUT / FastCUT image-to-image translation on TensorFlow.js

Usage:
  cutjs demo [options]   learn PatchNCE patch embeddings on the bundled photos
  cutjs info [options]   show the backend that would be used

Options:
  --backend <name>       auto | tensorflow | webgpu | wasm | cpu   (default: auto)
  --dataroot <dir>       folder with trainA/                        (default: datasets/horse2zebra_demo)
  --size <n>             image size for the demo                    (default: 64)
  --steps <n>            demo optimisation steps                    (default: 100)
  --num_patches <n>      patches per feature level                  (default: 64)
  --lr <x>               Adam learning rate                         (default: 0.002)
  --seed <n>             random seed                                (default: 0)
  -h, --help             this help
`;

class UsageError extends Error {}

function intOption(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got '${value}'`);
  return n;
}

function numberOption(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name}: expected a positive number, got '${value}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  // The reference's snake_case flags and kebab-case forms are both accepted.
  const args = argv.map((a) => {
    if (!a.startsWith('--')) return a;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    return `--${name.replace(/-/g, '_')}${eq < 0 ? '' : a.slice(eq)}`;
  });
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        backend: { type: 'string', default: 'auto' },
        dataroot: { type: 'string', default: 'datasets/horse2zebra_demo' },
        size: { type: 'string', default: '64' },
        steps: { type: 'string', default: '100' },
        num_patches: { type: 'string', default: '64' },
        lr: { type: 'string', default: '0.002' },
        seed: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 1;
  }
  if (!['demo', 'info'].includes(command)) throw new UsageError(`unknown command '${command}' (expected demo or info)`);
  const backend = values.backend as BackendChoice;
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend: unknown backend '${backend}' (expected one of ${BACKENDS.join(', ')})`);
  const options = {
    dataroot: values.dataroot,
    size: intOption('size', values.size, 8),
    steps: intOption('steps', values.steps, 1),
    numPatches: intOption('num_patches', values.num_patches, 1),
    lr: numberOption('lr', values.lr),
    seed: intOption('seed', values.seed, 0),
  };

  const info = await loadBackend(backend, (why) => console.error(`backend: skipped (${why})`));
  console.log(`backend: ${info.name} — ${info.detail}`);
  if (command === 'info') return 0;
  await runDemo(options, (line) => console.log(line));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`cutjs: ${e.message}`);
    if (!(e instanceof UsageError) && process.env.CUT_DEBUG) console.error(e.stack);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
