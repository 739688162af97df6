// A fast reader for the usual command line, so a plain client start does not load yargs (a good
// part of its start-up); anything it does not read the same way as yargs is left to yargs.
import { OPTIONS } from './options.js';

/** The command line as main reads it: yargs' result, or `quickArguments`' for a plain start. */
export interface Arguments {
  /** The positional arguments. */
  _: Array<string | number>;
  [option: string]: unknown;
}

const declared = Object.entries(OPTIONS) as Array<
  [string, { type: 'string' | 'boolean'; alias?: string }]
>;
/** Options that take a value, by their long name (`-s` and `-c` are `--server` and `--client`). */
const VALUE_OPTIONS = new Set(
  declared.filter(([, option]) => option.type === 'string').map(([name, o]) => o.alias ?? name),
);
const FLAGS = new Set(
  declared.filter(([, option]) => option.type === 'boolean').map(([name, o]) => o.alias ?? name),
);
/** `-s` → `server`, and back: yargs sets both names. */
const SHORT: Record<string, string> = {};
const LONG_TO_SHORT: Record<string, string> = {};
for (const [name, option] of declared) {
  if (option.alias === undefined) continue;
  SHORT[`-${name}`] = option.alias;
  LONG_TO_SHORT[option.alias] = name;
}

/**
 * Reads a plain start without yargs, whose loading is a good part of a client's start-up
 * (docs/benchmarks.md, start-up): known options, each at most once, as `--name value`,
 * `--name=value` or a flag (`--json`, `--no-color`), and words that do not start with '-'.
 * These yargs reads the same way (test/unit/quick-arguments.test.ts checks it). Anything
 * else gives undefined, and yargs reads it: help and version, an unknown or repeated option,
 * a value that starts with '-' or is missing, `--`, a flag followed by true or false (which
 * yargs would take as its value), negative numbers. So every line printed about the
 * arguments is still yargs' or main's own.
 */
export function quickArguments(argv: readonly string[]): Arguments | undefined {
  const args: Arguments = { _: [] };
  const given = new Set<string>();
  const set = (name: string, value: string | boolean): boolean => {
    if (given.has(name)) return false;
    given.add(name);
    args[name] = value;
    const short = LONG_TO_SHORT[name];
    if (short) args[short] = value;
    return true;
  };
  const plainValue = (value: string | undefined): value is string =>
    value !== undefined && value !== '' && !value.startsWith('-');
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '') return undefined;
    if (!word.startsWith('-')) {
      args._.push(word);
      continue;
    }
    const equals = word.indexOf('=');
    if (word.startsWith('--') && equals > 2) {
      const name = word.slice(2, equals);
      const value = word.slice(equals + 1);
      if (!VALUE_OPTIONS.has(name) || !plainValue(value) || !set(name, value)) return undefined;
      continue;
    }
    const name = SHORT[word] ?? (word.startsWith('--') ? word.slice(2) : undefined);
    if (name === undefined) return undefined;
    if (VALUE_OPTIONS.has(name)) {
      const value = argv[i + 1];
      if (!plainValue(value) || !set(name, value)) return undefined;
      i++;
    } else if (FLAGS.has(name) || name === 'no-color') {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') return undefined;
      if (!(name === 'no-color' ? set('color', false) : set(name, true))) return undefined;
    } else {
      return undefined;
    }
  }
  return args;
}
