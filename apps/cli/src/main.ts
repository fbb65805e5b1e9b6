// `cutjs <command> [flags]`: dispatch, error reporting and exit codes. Commands print through the
// given streams, so tests run them in-process.
import { createRequire } from 'node:module';
import { demoCommand } from './cmd-demo.js';
import { evalCommand } from './cmd-eval.js';
import { exportCommand } from './cmd-export.js';
import { pretrainedCommand } from './cmd-pretrained.js';
import { testCommand } from './cmd-test.js';
import { trainCommand } from './cmd-train.js';
import { translateCommand } from './cmd-translate.js';
import { infoFlags } from './command-flags.js';
import { Context, EXIT, backendChoice, type CliIO } from './context.js';
import { UsageError, formatHelp, parseFlags } from './flags.js';
import { translateRuntimeLine } from './onnx-runtime.js';

export { EXIT, type CliIO } from './context.js';
export { UsageError } from './flags.js';

const USAGE = `cutjs: CUT / FastCUT unpaired image-to-image translation on TensorFlow.js

Usage:
  cutjs train [flags]                      train a model (the reference's train.py flags)
  cutjs test [flags]                       translate a test set into a results page (test.py)
  cutjs translate <images...> [flags]      translate images of any size with a checkpoint
  cutjs export --checkpoint <..> --format onnx --out G.onnx   the generator as an ONNX model
  cutjs eval --real <dir> --fake <dir> --inception <pth>   FID and KID (pytorch-fid's, clean-fid's)
  cutjs demo [flags]                       train FastCUT on the bundled photos, then test it
  cutjs info [--backend <name>]            show the backend that would be used
  cutjs pretrained list|fetch <name>       the CUT authors' pretrained generators (downloaded once)

'cutjs <command> --help' lists a command's flags with their defaults. Flags are the
reference's (--crop_size 128); kebab-case works too (--crop-size 128), and --config <file.json>
reads the same names as keys (flags given on the command line win).

Exit codes: 0 done, 1 failed, 2 bad command line; a training run stopped with its latest
checkpoint saved: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 141 standard output closed.
`;

function version(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

async function infoCommand(argv: readonly string[], ctx: Context): Promise<number> {
  const table = infoFlags();
  const parsed = parseFlags(argv, table);
  if (parsed.help) {
    ctx.print(
      formatHelp(
        'Usage: cutjs info [--backend <name>]\n\nLoads the backend and prints what runs underneath, and (auto) why each faster backend was skipped;\nthen the runtime cutjs translate uses by default (tfjs or onnx) and why.',
        table,
      ),
    );
    return 0;
  }
  await ctx.loadBackend(backendChoice(parsed), true);
  ctx.print(await translateRuntimeLine());
  return 0;
}

const COMMANDS: Record<string, (argv: readonly string[], ctx: Context) => Promise<number>> = {
  train: trainCommand,
  test: testCommand,
  translate: translateCommand,
  export: exportCommand,
  eval: evalCommand,
  demo: demoCommand,
  info: infoCommand,
  pretrained: pretrainedCommand,
};

/** Runs one `cutjs` command line and returns its exit code; never throws. */
export async function main(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const ctx = new Context({
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    signal: io.signal,
    handleSigint: io.handleSigint,
  });
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      const topic = command === 'help' ? rest[0] : undefined;
      if (topic && COMMANDS[topic]) return await COMMANDS[topic](['--help'], ctx);
      ctx.print(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === '--version' || command === '-v') {
      ctx.print(version());
      return EXIT.ok;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command '${command}' (expected ${Object.keys(COMMANDS).join(', ')}; see cutjs --help)`);
    return await run(rest, ctx);
  } catch (e) {
    const err = e as Error;
    ctx.warn(`cutjs${command && Object.hasOwn(COMMANDS, command) ? ` ${command}` : ''}: ${err.message}`);
    if (err instanceof UsageError) return EXIT.usage;
    if (process.env.CUT_DEBUG) ctx.warn(err.stack ?? '');
    return EXIT.failed;
  } finally {
    ctx.close();
  }
}
