// The commands a user types: names, aliases, usage and help, where each may be used (in a group,
// outside, anywhere), and parsing a line into a Command.

/** One line the user typed, understood. Parsing knows nothing of sockets or state. */
export type Command =
  | { kind: 'send'; to: string; text: string }
  | { kind: 'dereg'; nick: string }
  | { kind: 'reg'; nick: string }
  | { kind: 'broadcast'; text: string }
  | { kind: 'create_group'; group: string }
  | { kind: 'list_groups' }
  | { kind: 'join_group'; group: string }
  | { kind: 'send_group'; text: string }
  | { kind: 'list_members' }
  | { kind: 'leave_group' }
  | { kind: 'online'; page?: number }
  | { kind: 'all'; page?: number }
  | { kind: 'more' }
  | { kind: 'watch'; nick: string | undefined }
  | { kind: 'unwatch'; nick: string }
  | { kind: 'chat'; nick: string | undefined }
  | { kind: 'say'; text: string }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' }
  | { kind: 'usage'; usage: string }
  | { kind: 'unknown'; command: string };

/** Where a command may be used: outside a group, only inside one, or anywhere. */
export type Scope = 'outside' | 'group' | 'anywhere';

interface Spec {
  usage: string;
  what: string;
  scope: Scope;
  parse(args: string): Command | undefined;
}

const firstWord = (text: string): [string, string] => {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  return match ? [match[1], match[2]] : ['', ''];
};

/** Exactly one word of argument. */
const oneWord =
  (make: (word: string) => Command) =>
  (args: string): Command | undefined => {
    const [word, rest] = firstWord(args);
    return word && !rest ? make(word) : undefined;
  };

const noArgs = (command: Command) => (args: string) => (args.trim() === '' ? command : undefined);

/** No argument, or a page number from 1 (kept from 0). */
const page =
  (make: (page?: number) => Command) =>
  (args: string): Command | undefined => {
    const word = args.trim();
    if (word === '') return make();
    return /^[1-9]\d{0,6}$/.test(word) ? make(Number(word) - 1) : undefined;
  };

/** The rest of the line as text; an empty text is not a usage error: the client says "empty". */
const text = (make: (text: string) => Command) => (args: string) => make(args.trim());

const COMMANDS: Record<string, Spec> = {
  send: {
    usage: 'send <nick> <message>',
    what: 'send a message to a user (saved by the server if they are offline)',
    scope: 'outside',
    parse(args) {
      const [to, rest] = firstWord(args);
      return to ? { kind: 'send', to, text: rest.trim() } : undefined;
    },
  },
  broadcast: {
    usage: 'broadcast <message>',
    what: 'send a message to everyone online',
    scope: 'outside',
    parse: text((t) => ({ kind: 'broadcast', text: t })),
  },
  dereg: {
    usage: 'dereg <nick>',
    what: 'go offline (the server keeps your messages)',
    scope: 'outside',
    parse: oneWord((nick) => ({ kind: 'dereg', nick })),
  },
  reg: {
    usage: 'reg <nick>',
    what: 'come back online and receive saved messages',
    scope: 'outside',
    parse: oneWord((nick) => ({ kind: 'reg', nick })),
  },
  create_group: {
    usage: 'create_group <group>',
    what: 'create a group chat',
    scope: 'outside',
    parse: oneWord((group) => ({ kind: 'create_group', group })),
  },
  list_groups: {
    usage: 'list_groups',
    what: 'list the group chats',
    scope: 'outside',
    parse: noArgs({ kind: 'list_groups' }),
  },
  join_group: {
    usage: 'join_group <group>',
    what: 'enter a group chat (private messages wait until you leave)',
    scope: 'outside',
    parse: oneWord((group) => ({ kind: 'join_group', group })),
  },
  send_group: {
    usage: 'send_group <message>',
    what: 'send a message to your group',
    scope: 'group',
    parse: text((t) => ({ kind: 'send_group', text: t })),
  },
  list_members: {
    usage: 'list_members',
    what: 'list the members of your group',
    scope: 'group',
    parse: noArgs({ kind: 'list_members' }),
  },
  leave_group: {
    usage: 'leave_group',
    what: 'leave your group chat',
    scope: 'group',
    parse: noArgs({ kind: 'leave_group' }),
  },
  chat: {
    usage: 'chat [<nick>]',
    what: 'talk to a user: lines that are not commands go to them; chat alone stops',
    scope: 'outside',
    parse(args) {
      const [nick, rest] = firstWord(args);
      return rest ? undefined : { kind: 'chat', nick: nick || undefined };
    },
  },
  online: {
    usage: 'online [<page>]',
    what: 'list who is online (in pages on a large server)',
    scope: 'anywhere',
    parse: page((n) => ({ kind: 'online', ...(n === undefined ? {} : { page: n }) })),
  },
  all: {
    usage: 'all [<page>]',
    what: 'list every registered user and whether they are online',
    scope: 'anywhere',
    parse: page((n) => ({ kind: 'all', ...(n === undefined ? {} : { page: n }) })),
  },
  more: {
    usage: 'more',
    what: 'the next page of online or all',
    scope: 'anywhere',
    parse: noArgs({ kind: 'more' }),
  },
  watch: {
    usage: 'watch [<nick>]',
    what: 'hear when a user comes online or leaves (on a large server); watch alone lists them',
    scope: 'outside',
    parse(args) {
      const [nick, rest] = firstWord(args);
      return rest ? undefined : { kind: 'watch', nick: nick || undefined };
    },
  },
  unwatch: {
    usage: 'unwatch <nick>',
    what: 'stop watching a user',
    scope: 'outside',
    parse: oneWord((nick) => ({ kind: 'unwatch', nick })),
  },
  help: {
    usage: 'help',
    what: 'list the commands',
    scope: 'anywhere',
    parse: noArgs({ kind: 'help' }),
  },
  quit: {
    usage: 'quit',
    what: 'go offline and leave (also: exit, Ctrl+C)',
    scope: 'anywhere',
    parse: noArgs({ kind: 'quit' }),
  },
};

/** Habits from other chats. */
const ALIASES: Record<string, string> = {
  exit: 'quit',
  '/exit': 'quit',
  '/quit': 'quit',
  '/msg': 'send',
  '/join': 'join_group',
  '/leave': 'leave_group',
  '/help': 'help',
  '/query': 'chat',
};

/** Every name a command answers to: the commands, then their aliases. */
export const COMMAND_NAMES: readonly string[] = [...Object.keys(COMMANDS), ...Object.keys(ALIASES)];
export const COMMAND_HELP: ReadonlyArray<readonly [string, string]> = [
  ...Object.values(COMMANDS).map((spec) => [spec.usage, spec.what] as const),
  ['/msg /join /leave /query', 'aliases of send, join_group, leave_group, chat'],
  ['exit /exit /quit /help', 'aliases of quit and help'],
];

/** Where the command a line names may be used (`anywhere` for what is not a command). */
export function scopeOf(command: Command): Scope {
  return COMMANDS[command.kind]?.scope ?? 'anywhere';
}

/**
 * A line typed in a conversation (a group, or `chat <nick>`): a whole command is carried out;
 * anything else is text for the conversation (`say`), but a line starting with `/`, which is
 * always meant as a command. Outside a conversation, `parseCommand`.
 */
export function parseLine(line: string, inConversation: boolean): Command {
  const command = parseCommand(line);
  if (
    !inConversation ||
    (command.kind !== 'unknown' && command.kind !== 'usage') ||
    line.trimStart().startsWith('/')
  )
    return command;
  return { kind: 'say', text: line.trim() };
}

/** Commands are case-insensitive (`SEND`, `Send`); a usage line names the word typed (`/msg <nick> <message>`). */
export function parseCommand(line: string): Command {
  const [word, args] = firstWord(line);
  if (word === '') return { kind: 'empty' };
  const name = word.toLowerCase();
  const spec = Object.hasOwn(ALIASES, name)
    ? COMMANDS[ALIASES[name]]
    : Object.hasOwn(COMMANDS, name)
      ? COMMANDS[name]
      : undefined;
  if (!spec) return { kind: 'unknown', command: word };
  return (
    spec.parse(args) ?? {
      kind: 'usage',
      usage: Object.hasOwn(ALIASES, name) ? spec.usage.replace(/^\S+/, name) : spec.usage,
    }
  );
}
