// Carries out the commands a user types, through the client, and turns their outcomes into output
// events. Kept apart from the REPL so each command can be tested with a fake context.
import type { ChatClient } from '../client/client.js';
import { isUdpchatError, UdpchatError } from '../protocol/errors.js';
import { COMMAND_HELP, COMMAND_NAMES, scopeOf, type Command } from './commands.js';
import type { OutputEvents } from './render.js';

/** What a command needs from the REPL around it. */
export interface CommandContext {
  client: ChatClient;
  nick: string;
  show: <K extends keyof OutputEvents>(event: K, payload: OutputEvents[K]) => void;
  showError(error: unknown, nick?: string): void;
  enterGroupMode(group: string | undefined): void;
  /** The nick a `chat` conversation is with, if any. */
  readonly chatPartner: string | undefined;
  /** Starts a conversation with `nick`, or ends the one under way (undefined). */
  chatWith(nick: string | undefined): void;
  /** The last page of `online` or `all` shown, for `more` (set by the command). */
  lastPage: { which: 'online' | 'all'; page: number; pages: number } | undefined;
  /** Follows work that outlives its command (a send's outcome). */
  track(work: Promise<unknown>): void;
  /** Leaves; `deregister: false` when the registry just failed to answer a dereg. */
  leave(code: number, options?: { deregister: boolean }): Promise<void>;
}

/**
 * Carries out one command. The REPL runs them one after another, in the order typed, so
 * their answers come in that order; a send is done once accepted (its outcome follows).
 */
export async function dispatch(command: Command, context: CommandContext): Promise<void> {
  const { client, show } = context;
  const scope = scopeOf(command);
  if (scope === 'group' && !client.group)
    return show('error', { code: 'ERR_NOT_IN_GROUP', message: 'not in a group' });
  if (scope === 'outside' && client.group) {
    const message = `Command ${command.kind} is not available in a group. Type leave_group first.`;
    return show('error', { code: 'ERR_NOT_HERE', message });
  }
  try {
    await carryOut(command, context);
  } catch (error) {
    // A timeout has already said "[Server not responding]" (the client's own event).
    // "You are offline" names the user (what to type to come back); the others, whom the command named.
    const to =
      'to' in command
        ? command.to
        : command.kind === 'say' && !client.group
          ? context.chatPartner
          : undefined;
    const named = isUdpchatError(error, 'ERR_NOT_ONLINE') || to === undefined ? context.nick : to;
    if (!isUdpchatError(error, 'ERR_TIMEOUT')) context.showError(error, named);
  }
}

async function carryOut(command: Command, context: CommandContext): Promise<void> {
  const { client, show } = context;
  switch (command.kind) {
    case 'empty':
      return;
    case 'send':
      return sendTo(command.to, command.text, context);
    case 'say':
      // Text typed in a conversation: to the group while in one, else to the chat partner.
      if (client.group) return sendToGroup(command.text, context);
      if (context.chatPartner !== undefined)
        return sendTo(context.chatPartner, command.text, context);
      return show('unknown', { command: command.text, commands: COMMAND_NAMES });
    case 'chat': {
      const partner = context.chatPartner;
      if (command.nick === undefined) {
        if (partner === undefined) return show('usage', { usage: 'chat <nick>' });
        context.chatWith(undefined);
        return show('chat-ended', { nick: partner });
      }
      const problem = client.checkPeer(command.nick);
      if (problem) return context.showError(problem, command.nick);
      // On a large server a nick not held is looked up (and watched from then on).
      if (client.watchMode && !(await client.lookup(command.nick))) {
        return context.showError(
          new UdpchatError('ERR_UNKNOWN_NICK', `no user ${command.nick}`),
          command.nick,
        );
      }
      context.chatWith(command.nick);
      return show('chat-started', { nick: command.nick });
    }
    case 'reg':
    case 'dereg':
      if (command.nick !== context.nick) {
        return show('error', {
          code: 'ERR_NOT_YOURSELF',
          message: 'you can only reg or dereg yourself',
        });
      }
      if (command.kind === 'reg') return client.register();
      try {
        await client.deregister();
        // "You are Offline. Bye." (the spec's line) while the program runs on: say what next.
        show('offline-hint', { nick: context.nick });
      } catch (error) {
        if (!isUdpchatError(error, 'ERR_TIMEOUT')) throw error;
        show('exiting', { reason: 'server not responding' }); // the spec: a dereg with no answer exits
        void context.leave(1, { deregister: false });
      }
      return;
    case 'broadcast':
      return show('broadcast-result', await client.broadcast(command.text));
    case 'create_group': {
      const status = await client.createGroup(command.group);
      return show(status === 'created' ? 'group-created' : 'group-exists', {
        group: command.group,
      });
    }
    case 'list_groups':
      return show('groups', { groups: await client.listGroups() });
    case 'join_group': {
      const status = await client.joinGroup(command.group);
      show(status === 'joined' ? 'group-joined' : 'group-missing', { group: command.group });
      if (status === 'joined') context.enterGroupMode(command.group);
      return;
    }
    case 'send_group':
      return sendToGroup(command.text, context);
    case 'list_members': {
      const group = client.group!;
      return show('members', { group, members: await client.listMembers() });
    }
    case 'leave_group':
      await client.leaveGroup(); // its line comes as the client's 'left-group' event
      return;
    case 'online':
    case 'all':
      return showUsers(command.kind, command.page ?? 0, context);
    case 'more': {
      const last = context.lastPage;
      if (!last || last.page + 1 >= last.pages) return show('no-more', {});
      return showUsers(last.which, last.page + 1, context);
    }
    case 'watch':
      if (command.nick === undefined) return show('watch-list', client.watching());
      return show('watching', { nick: command.nick, outcome: await client.watch(command.nick) });
    case 'unwatch':
      return show('unwatched', { nick: command.nick, was: await client.unwatch(command.nick) });
    case 'help':
      return show('help', { commands: COMMAND_HELP });
    case 'quit':
      void context.leave(0);
      return;
    case 'usage':
      return show('usage', { usage: command.usage });
    case 'unknown':
      return show('unknown', { command: command.command, commands: COMMAND_NAMES });
  }
}

/**
 * A page of the users: a small server's whole table as one page, a large one's asked of it.
 * Offline, the table is no longer kept up to date: said so rather than shown as fact.
 */
async function showUsers(
  which: 'online' | 'all',
  page: number,
  context: CommandContext,
): Promise<void> {
  const { client } = context;
  if (client.state !== 'online')
    throw new UdpchatError('ERR_NOT_ONLINE', 'the user list is not kept while offline');
  const users = await client.users(which === 'online', page);
  context.lastPage = { which, page: users.page, pages: users.pages };
  // How each online user is reached, once a message went: direct, punched or relayed.
  const entries = users.entries.map((entry) => {
    const path = entry.online ? client.pathTo(entry.nick)?.kind : undefined;
    return path ? { ...entry, path } : entry;
  });
  context.show('users', { which, ...users, entries });
}

/** A private message: refused at once when it cannot go; its outcome follows as the client's events. */
function sendTo(to: string, text: string, context: CommandContext): void {
  const { client } = context;
  const problem = client.checkSend(to, text);
  if (problem) throw problem;
  context.track(client.send(to, text).catch((error) => context.showError(error, to)));
}

async function sendToGroup(text: string, context: CommandContext): Promise<void> {
  const group = context.client.group!;
  await context.client.sendGroup(text);
  context.show('group-sent', { group });
}
