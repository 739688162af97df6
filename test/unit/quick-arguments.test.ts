import t, { type Test } from 'tap';
import fc from 'fast-check';
import { quickArguments, type Arguments } from '../../src/cli/quick-arguments.js';
import { parseArguments } from '../../src/cli/yargs-arguments.js';
import { OPTIONS } from '../../src/cli/options.js';

/** Every option name and alias yargs is given: the comparison covers each option as declared. */
const NAMES = Object.entries(OPTIONS).flatMap(([name, option]) =>
  'alias' in option ? [name, option.alias] : [name],
);

/** What main reads of the arguments: the positionals and every option (a flag not given counts as false). */
function seen(args: Arguments): Record<string, unknown> {
  const view: Record<string, unknown> = { _: args._.map(String) };
  for (const name of NAMES) view[name] = args[name] === false ? undefined : args[name];
  view.color = args.color;
  return view;
}

/** Where quickArguments reads a command line, yargs reads it the same way; else it leaves it to yargs. */
function agrees(t: Test, argv: string[]): void {
  const quick = quickArguments(argv);
  if (quick === undefined) return;
  let full: Arguments;
  try {
    full = parseArguments(argv);
  } catch (error) {
    t.fail(
      `yargs refused what quickArguments read: ${JSON.stringify(argv)}: ${(error as Error).message}`,
    );
    return;
  }
  t.same(seen(quick), seen(full), JSON.stringify(argv));
}

t.test('a plain start is read as yargs reads it', async (t) => {
  const starts = [
    ['-c', 'alice', '127.0.0.1', '9000', '9001'],
    [
      '-c',
      'alice',
      '127.0.0.1',
      '9000',
      '9001',
      '--json',
      '--host',
      '127.0.0.1',
      '--data-dir',
      '/tmp/x',
    ],
    ['--client', 'bob', 'localhost', '9000', '9001', '--no-color', '--timestamps', '--bell'],
    ['127.0.0.1', '-c', 'alice', '9000', '--ack-timeout=200', '9001', '--retries', '3'],
    ['-s', '9000', '--host', '127.0.0.1', '--db', '/tmp/r.json', '--log-level', 'warn'],
    [
      '--server=9000',
      '--store=redis://127.0.0.1:6379/0',
      '--rate-limit',
      '100',
      '--hello-rate',
      '500',
      '--max-clients',
      '10',
    ],
    ['-c', 'alice', 'h', '1', '2', '--password'],
    [
      '-c',
      'alice',
      'h',
      '1',
      '2',
      '--new-account',
      '--servers',
      'a:1,b:2',
      '--heartbeat-interval',
      '50',
    ],
    ['-c', '007', 'h', '1', '2', '--log-file', 'x.log', '--color'],
    ['-s', '9000', '--metrics', '9100', '--node', 'n1', '--probe-timeout', '100', 'extra'],
    ['-s', '9000', '--table-limit', '0', '--max-clients=5000'],
  ];
  for (const argv of starts) {
    t.not(quickArguments(argv), undefined, `read without yargs: ${argv.join(' ')}`);
    agrees(t, argv);
  }
});

t.test('anything else is left to yargs', async (t) => {
  const others = [
    ['--help'],
    ['-h'],
    ['--version'],
    ['-v'],
    ['-c', 'alice', '--', 'h'],
    ['-c', 'alice', 'h', '-5', '2'],
    ['--json', 'false', '-c', 'a', 'h', '1', '2'],
    ['--json', 'true'],
    ['--host'],
    ['--host', '--json'],
    ['--host='],
    ['-c', 'a', '-c', 'b'],
    ['-c', 'a', '--client', 'b'],
    ['--color', '--no-color'],
    ['--dataDir', 'x'],
    ['--data_dir', 'x'],
    ['--no-json'],
    ['--json=true'],
    ['-x'],
    ['-cs'],
    ['-c=alice'],
    [''],
    ['--unknown', 'x'],
    ['--host', '-x'],
  ];
  for (const argv of others) t.equal(quickArguments(argv), undefined, argv.join(' '));
});

t.test(
  'any mix of words, options and values: read as yargs reads it, or left to yargs',
  async () => {
    const word = fc.constantFrom(
      '-c',
      '-s',
      '--client',
      '--server',
      '--host',
      '--json',
      '--no-color',
      '--color',
      '--bell',
      '--password',
      '--retries',
      '--data-dir',
      '--log-level=warn',
      '--host=h',
      '--store=redis://a:1',
      '--',
      '-h',
      '-v',
      'alice',
      '127.0.0.1',
      '9000',
      'true',
      'false',
      '-1',
      '',
      'x=y',
      '--dataDir',
      '--no-json',
      // and every declared option by its long name
      ...NAMES.filter((name) => name.length > 1).map((name) => `--${name}`),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 9 }), (argv) => {
        const quick = quickArguments(argv);
        if (quick === undefined) return true;
        let full: Arguments;
        try {
          full = parseArguments(argv);
        } catch {
          return false;
        }
        return JSON.stringify(seen(quick)) === JSON.stringify(seen(full));
      }),
      { numRuns: 500 },
    );
  },
);

t.test('an unknown option is named as typed, in English whatever LANG says', async (t) => {
  const saved = process.env.LC_ALL;
  process.env.LC_ALL = 'de_DE.UTF-8';
  t.teardown(() => {
    if (saved === undefined) delete process.env.LC_ALL;
    else process.env.LC_ALL = saved;
  });
  t.throws(() => parseArguments(['-s', '41001', '--bogus']), {
    message: 'unknown option --bogus',
  });
  t.throws(() => parseArguments(['-s', '41001', '--bogus', '-x']), {
    message: 'unknown options --bogus, -x',
  });
});
