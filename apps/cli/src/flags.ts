// Command-line flags the way the reference's argparse reads them, plus kebab-case spellings and
// JSON config files. Values come out raw (strings, or typed from a config file); each command
// validates them (CUT options through @cut/trainer's option table).
import { readFileSync } from 'node:fs';

/** A problem with the command line or a config file: exit code 2, before any work starts. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagKind = 'str' | 'int' | 'float' | 'bool';

export interface FlagDef {
  /** The name as the reference spells it (`crop_size`, `CUT_mode`, `netG`). */
  name: string;
  kind: FlagKind;
  /**
   * Boolean flags: `switch` is argparse's store_true (`--no_flip`, no value); `optional` is the
   * reference's `str2bool` with `nargs='?', const=True` (`--nce_idt` alone is True, `--nce_idt False`).
   */
  boolStyle?: 'switch' | 'optional';
  /** Default as shown by --help. */
  default: string;
  help: string;
  /** Heading of the --help section. */
  group: string;
}

/** A raw value and where it came from (for error messages). */
export type RawValue = string | number | boolean | null;

export interface ParsedFlags {
  /** Given values by canonical name: command line over config file. */
  values: Map<string, RawValue>;
  /** Where each value came from: 'command line' or the config file's path. */
  sources: Map<string, string>;
  positionals: string[];
  help: boolean;
  /** The --config file, if any. */
  config?: string;
}

const TRUE_WORDS = ['true', 't', 'yes', 'y', '1'];
const FALSE_WORDS = ['false', 'f', 'no', 'n', '0'];

/** Spelling-insensitive key: `--crop-size`, `--crop_size`, `--cropSize` and `--CUT-mode`/`--cut_mode` meet. */
export const flagKey = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/** The flags of one command, looked up by any accepted spelling. */
export class FlagTable {
  readonly defs: readonly FlagDef[];
  private readonly byKey = new Map<string, FlagDef>();

  constructor(defs: readonly FlagDef[]) {
    this.defs = defs;
    for (const d of defs) {
      const k = flagKey(d.name);
      const other = this.byKey.get(k);
      if (other) throw new Error(`flag table: --${d.name} and --${other.name} have the same spelling-insensitive key`);
      this.byKey.set(k, d);
    }
  }

  get(name: string): FlagDef | undefined {
    return this.byKey.get(flagKey(name));
  }

  /** ` (did you mean --x?)` for a close miss, else ''. */
  suggest(name: string): string {
    const key = flagKey(name);
    let best: FlagDef | undefined;
    let bestScore = Infinity;
    for (const d of this.defs) {
      const k = flagKey(d.name);
      const score = k.startsWith(key) && key.length >= 3 ? 0.5 : editDistance(key, k);
      if (score < bestScore) {
        bestScore = score;
        best = d;
      }
    }
    return best && bestScore <= Math.max(1, Math.floor(key.length / 4)) ? ` (did you mean --${best.name}?)` : '';
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** A token that names a flag (`--x`, `-h`), as opposed to a value such as `-1` or `-0.5`. */
const looksLikeFlag = (token: string) => (token.startsWith('--') ? token.length > 2 : /^-[A-Za-z]/.test(token));

/**
 * Reads `argv` against the command's flags: `--name value`, `--name=value`, switches alone,
 * `str2bool` flags alone or with a value, `-h`/`--help`, `--` ending the flags, and
 * `--config file.json` (same names as keys; the command line wins). Repeated flags: the last one
 * wins, as in argparse. Unknown flags, missing values and stray words are `UsageError`s.
 */
export function parseFlags(argv: readonly string[], table: FlagTable, options: { positionals?: boolean } = {}): ParsedFlags {
  const values = new Map<string, RawValue>();
  const sources = new Map<string, string>();
  const positionals: string[] = [];
  let help = false;
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === '-h' || token === '--help') {
      help = true;
      continue;
    }
    if (!looksLikeFlag(token)) {
      if (!options.positionals) throw new UsageError(`unexpected argument '${token}'${strayHint(argv, i, table)}`);
      positionals.push(token);
      continue;
    }
    if (!token.startsWith('--')) throw new UsageError(`unknown flag ${token} (flags start with --; see --help)`);
    const eq = token.indexOf('=');
    const given = eq < 0 ? token.slice(2) : token.slice(2, eq);
    const inline = eq < 0 ? undefined : token.slice(eq + 1);
    if (flagKey(given) === 'config') {
      const file = inline ?? argv[++i];
      if (file === undefined || looksLikeFlag(file)) throw new UsageError(`--config: expected a JSON file name`);
      config = file;
      continue;
    }
    const def = table.get(given);
    if (!def) throw new UsageError(`unknown flag --${given}${table.suggest(given)} (see --help)`);
    let value: RawValue;
    if (def.kind === 'bool') {
      const next = argv[i + 1];
      if (inline !== undefined) value = boolWord(def, inline);
      else if (def.boolStyle === 'optional' && next !== undefined && isBoolWord(next)) {
        value = boolWord(def, next);
        i++;
      } else if (def.boolStyle === 'optional' && next !== undefined && !looksLikeFlag(next) && !options.positionals) {
        // argparse's str2bool would take it as the value and reject it.
        throw new UsageError(`--${def.name}: expected True or False (or nothing, meaning True), got '${next}'`);
      } else value = true;
    } else {
      const next = inline ?? argv[++i];
      if (next === undefined || (inline === undefined && next.startsWith('--'))) {
        throw new UsageError(`--${def.name}: expected a value (${describeKind(def)})`);
      }
      value = next;
    }
    values.set(def.name, value);
    sources.set(def.name, 'command line');
  }
  if (config !== undefined) {
    for (const [name, value] of readConfig(config, table)) {
      if (values.has(name)) continue; // the command line wins
      values.set(name, value);
      sources.set(name, config);
    }
  }
  return { values, sources, positionals, help, config };
}

const isBoolWord = (s: string) => TRUE_WORDS.includes(s.toLowerCase()) || FALSE_WORDS.includes(s.toLowerCase());

function boolWord(def: FlagDef, s: string): boolean {
  const lower = s.toLowerCase();
  if (TRUE_WORDS.includes(lower)) return true;
  if (FALSE_WORDS.includes(lower)) return false;
  throw new UsageError(`--${def.name}: expected True or False, got '${s}'`);
}

function describeKind(def: FlagDef): string {
  return { str: 'a string', int: 'an integer', float: 'a number', bool: 'True or False' }[def.kind];
}

/** Why a word turned up where a flag was expected: usually a value given to a switch. */
function strayHint(argv: readonly string[], i: number, table: FlagTable): string {
  const prev = argv[i - 1];
  if (prev?.startsWith('--') && !prev.includes('=')) {
    const def = table.get(prev.slice(2));
    if (def?.kind === 'bool' && def.boolStyle === 'switch') return ` (--${def.name} is a switch and takes no value)`;
  }
  return '';
}

/** A JSON config file: an object whose keys are flag names (any accepted spelling). */
function readConfig(file: string, table: FlagTable): Map<string, RawValue> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError(`${file}: expected a JSON object of options, e.g. {"crop_size": 128}`);
  }
  const out = new Map<string, RawValue>();
  for (const [key, value] of Object.entries(data)) {
    const def = table.get(key);
    if (!def) throw new UsageError(`${file}: unknown option '${key}'${table.suggest(key)}`);
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      throw new UsageError(`${file}: '${key}' must be a string, number, boolean or null, got ${JSON.stringify(value)}`);
    }
    if (def.kind === 'bool' && typeof value === 'string') out.set(def.name, boolWord(def, value));
    else out.set(def.name, value as RawValue);
  }
  return out;
}

/** `--help` text: usage line, then each group's flags with default and description. */
export function formatHelp(usage: string, table: FlagTable, width = 100): string {
  const lines = [usage.trimEnd(), ''];
  const groups = [...new Set(table.defs.map((d) => d.group))];
  const label = (d: FlagDef) => {
    if (d.kind !== 'bool') return `--${d.name} <${d.kind === 'str' ? 'value' : d.kind}>`;
    return d.boolStyle === 'optional' ? `--${d.name} [True|False]` : `--${d.name}`;
  };
  const col = Math.min(34, Math.max(...table.defs.map((d) => label(d).length)) + 4);
  for (const group of groups) {
    lines.push(`${group}:`);
    for (const d of table.defs.filter((x) => x.group === group)) {
      const text = `${d.help} [default: ${d.default}]`;
      const head = `  ${label(d)}`;
      const wrapped = wrap(text, Math.max(30, width - col));
      lines.push(head.length + 2 <= col ? head.padEnd(col) + wrapped[0] : `${head}\n${' '.repeat(col)}${wrapped[0]}`);
      for (const rest of wrapped.slice(1)) lines.push(' '.repeat(col) + rest);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length ? out : [''];
}
