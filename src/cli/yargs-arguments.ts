// Every option the CLI takes, declared to yargs: the full reader, loaded only when the quick one
// cannot read a command line (help, version, anything unusual).
import { createRequire } from 'node:module';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ArgumentError, HELP_USAGE } from './args.js';
import { OPTIONS } from './options.js';
import type { Arguments } from './quick-arguments.js';

// Two levels up from dist/cli/ and from dist/bundle/ alike.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Every option the CLI takes, read by yargs: `--help` and `--version` print and exit here. */
export function parseArguments(argv: string[] = hideBin(process.argv)): Arguments {
  return yargs(argv)
    .scriptName('udpchat')
    .usage(HELP_USAGE)
    .options(OPTIONS)
    .parserConfiguration({ 'parse-positional-numbers': false, 'parse-numbers': false })
    .strictOptions()
    .version(version)
    .help()
    .alias('h', 'help')
    .alias('v', 'version')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .locale('en') // its messages in udpchat's language, whatever LANG says
    .fail((message, error) => {
      throw error ?? new ArgumentError(unknownOptions(message) ?? message);
    })
    .parseSync();
}

/** yargs names an unknown option without its dashes (`Unknown argument: bogus`): given back as typed. */
function unknownOptions(message: string): string | undefined {
  const names = /^Unknown arguments?: (.+)$/.exec(message)?.[1].split(', ');
  if (!names) return undefined;
  const typed = names.map((name) => (name.length === 1 ? `-${name}` : `--${name}`));
  return `unknown option${typed.length > 1 ? 's' : ''} ${typed.join(', ')}`;
}
