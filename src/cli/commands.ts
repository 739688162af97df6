/** One line the user typed, understood. Parsing knows nothing of sockets or state. */
export type Command =
  | { kind: 'send'; to: string; text: string }
  | { kind: 'dereg'; nick: string }
  | { kind: 'reg'; nick: string }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' }
  | { kind: 'usage'; usage: string }
  | { kind: 'unknown'; command: string };

interface Spec {
  usage: string;
  what: string;
  parse(args: string): Command | undefined;
}

const firstWord = (text: string): [string, string] => {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  return match ? [match[1]!, match[2]!] : ['', ''];
};

const oneNick = (kind: 'dereg' | 'reg') => (args: string): Command | undefined => {
  const [nick, rest] = firstWord(args);
  return nick && !rest ? { kind, nick } : undefined;
};

const noArgs = (command: Command) => (args: string) => (args.trim() === '' ? command : undefined);

const COMMANDS: Record<string, Spec> = {
  send: {
    usage: 'send <nick> <message>',
    what: 'send a message to a user (saved by the server if they are offline)',
    parse(args) {
      const [to, text] = firstWord(args);
      // An empty text is not a usage error: the client says so in its own words.
      return to ? { kind: 'send', to, text: text.trim() } : undefined;
    },
  },
  dereg: { usage: 'dereg <nick>', what: 'go offline (the server keeps your messages)', parse: oneNick('dereg') },
  reg: { usage: 'reg <nick>', what: 'come back online and receive saved messages', parse: oneNick('reg') },
  help: { usage: 'help', what: 'list the commands', parse: noArgs({ kind: 'help' }) },
  quit: { usage: 'quit', what: 'go offline and leave (also: exit, Ctrl+C)', parse: noArgs({ kind: 'quit' }) },
};

const ALIASES: Record<string, string> = { exit: 'quit', '/exit': 'quit', '/msg': 'send', '/quit': 'quit' };

export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);
export const COMMAND_HELP: ReadonlyArray<readonly [string, string]> = Object.values(COMMANDS).map(
  (spec) => [spec.usage, spec.what] as const,
);

export function parseCommand(line: string): Command {
  const [word, args] = firstWord(line);
  if (word === '') return { kind: 'empty' };
  const spec = COMMANDS[ALIASES[word] ?? word];
  if (!spec) return { kind: 'unknown', command: word };
  return spec.parse(args) ?? { kind: 'usage', usage: spec.usage };
}
