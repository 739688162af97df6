// What a nick or a group name may be: the alphabet and length, and the words the REPL or the
// protocol reserves. Shared by the CLI, the client and the registry.
import { MAX_NICK_LENGTH } from './constants.js';

/** Words a nick may not be, because the REPL or the protocol gives them a meaning. */
export const RESERVED_NICKS: ReadonlySet<string> = new Set([
  'send',
  'reg',
  'dereg',
  'all',
  'online',
  'server',
  'help',
  'quit',
  'exit',
  'broadcast',
  'create_group',
  'list_groups',
  'join_group',
  'send_group',
  'list_members',
  'leave_group',
  'msg',
  'join',
  'leave',
  'chat',
  'query',
  'saved_m',
  'udpchat',
]);

export const NICK_PATTERN = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_NICK_LENGTH}}$`);

/** Why a group name is not acceptable (same alphabet as nicks), or undefined when it is. */
export function groupNameProblem(name: string): string | undefined {
  return NICK_PATTERN.test(name)
    ? undefined
    : `a group name is 1-${MAX_NICK_LENGTH} letters, digits, '_', '.' or '-'`;
}

/** Why a nick is not acceptable, or undefined when it is. */
export function nickProblem(nick: string): string | undefined {
  if (!NICK_PATTERN.test(nick)) {
    return `a nick is 1-${MAX_NICK_LENGTH} letters, digits, '_', '.' or '-'`;
  }
  // A nick names a folder in the client's data directory: '.', '..' and hidden names are out.
  if (nick.startsWith('.')) return 'a nick may not start with a dot';
  if (RESERVED_NICKS.has(nick)) return `'${nick}' is a command word`;
  return undefined;
}
