// `cutjs export --checkpoint <run folder | _net_G.pth | tfjs model> --format onnx --out G.onnx`: the
// generator as a standard ONNX model (@cut/networks' generatorToOnnx), for ONNX Runtime and other runtimes.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadBackend } from '@cut/backends';
import { writeFileAtomic } from '@cut/files';
import { ONNX_OPSETS, generatorToOnnx } from '@cut/networks';
import { loadGenerator, resolveGeneratorFile } from './checkpoint.js';
import { GROUP_TITLES } from './common-flags.js';
import { intFlag, stringFlag, type Context } from './context.js';
import { FlagTable, UsageError, formatHelp, parseFlags } from './flags.js';

const GROUP = 'Export options';
const FORMATS = ['onnx'] as const;
const DTYPES = ['float32', 'float16'] as const;

const USAGE = `Usage: cutjs export --checkpoint <run folder | _net_G.pth | tfjs model> --format onnx --out G.onnx [--dtype float16]

Writes the generator as a standard ONNX model (opset 17 by default): input 'input' and output
'output', NCHW float32 in [-1, 1], batch, height and width dynamic (height and width the multiples
the generator needs: 4 for ResNet, 128 or 256 for U-Net), weights as initializers under the
reference's state_dict names. --dtype float16 stores the weights in half precision (half the file;
cast to float32 inside the graph). ONNX Runtime, and 'cutjs translate --runtime onnx', run it.`;

export function exportFlags(): FlagTable {
  return new FlagTable([
    {
      name: 'checkpoint',
      kind: 'str',
      default: '(required)',
      help: 'a run folder (train_opt.txt + <epoch>_net_G.pth), a _net_G.pth file, or a tfjs model folder / model.json',
      group: GROUP,
    },
    { name: 'format', kind: 'str', default: '(required)', help: `what to write: ${FORMATS.join(', ')}`, group: GROUP },
    { name: 'out', kind: 'str', default: '(required)', help: 'the file to write (e.g. G.onnx)', group: GROUP },
    { name: 'dtype', kind: 'str', default: 'float32', help: `the weights' precision: ${DTYPES.join(', ')}`, group: GROUP },
    { name: 'opset', kind: 'int', default: '17', help: `the ONNX opset: ${ONNX_OPSETS.join(', ')}`, group: GROUP },
    { name: 'epoch', kind: 'str', default: 'latest', help: 'which checkpoint of a run folder: latest or an epoch number', group: GROUP_TITLES.base },
  ]);
}

export async function exportCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = exportFlags();
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(formatHelp(USAGE, table));
    return 0;
  }
  const checkpoint = stringFlag(parsed, 'checkpoint', '');
  const format = stringFlag(parsed, 'format', '');
  const out = stringFlag(parsed, 'out', '');
  const dtype = stringFlag(parsed, 'dtype', 'float32') as (typeof DTYPES)[number];
  const epoch = stringFlag(parsed, 'epoch', 'latest');
  const opset = intFlag(parsed, 'opset', 17, (n) => (ONNX_OPSETS.includes(n) ? null : `must be one of ${ONNX_OPSETS.join(', ')}`));
  if (!checkpoint) throw new UsageError('say which generator with --checkpoint <run folder, _net_G.pth file or tfjs model folder>');
  if (!format) throw new UsageError(`say what to write with --format (${FORMATS.join(', ')})`);
  if (!FORMATS.includes(format as (typeof FORMATS)[number])) throw new UsageError(`--format: '${format}' is not one of ${FORMATS.join(', ')}`);
  if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype: '${dtype}' is not one of ${DTYPES.join(', ')}`);
  if (!out) throw new UsageError('say where to write with --out <file> (e.g. --out G.onnx)');
  const folder = dirname(out);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`${out}: no folder ${folder} to write into`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new Error(`${out}: is a folder (give a file name, e.g. ${out}/G.onnx)`);
  resolveGeneratorFile(checkpoint, epoch);

  // The weights only need a place to live: wasm without native kernels (the cpu backend prints tfjs'
  // advice to install tfjs-node on first use).
  await loadBackend('wasm', { nativeKernels: false });
  const loaded = await loadGenerator(checkpoint, { epoch, overrides: new Map(), note: (l) => ctx.warn(l) });
  try {
    const bytes = await generatorToOnnx(loaded.G, {
      opset,
      dtype,
      docString: `${loaded.G.className} from ${loaded.file} (configured by ${loaded.configuredBy}), written by cutjs export`,
    });
    writeFileAtomic(out, bytes);
    ctx.print(
      `wrote ${out} (${loaded.G.className}, ${loaded.G.parameterCount().toLocaleString('en-US')} parameters, ${dtype}, opset ${opset}, ${(bytes.length / 1e6).toFixed(2)} MB) from ${loaded.file}`,
    );
  } finally {
    loaded.G.dispose();
  }
  return 0;
}
