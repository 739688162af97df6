// Runs a client on a terminal or a pipe: builds it from the nick's data directory, registers
// (asking for a password when an account needs one), reads commands line by line and prints each
// event as lines or JSON, until quit, end of input or a signal.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ChatClient } from '../client/client.js';
import { FileOutbox } from '../client/outbox.js';
import { FileContacts } from '../client/contacts.js';
import { FileClaims } from '../store/claims.js';
import { loadOrCreateIdentity } from '../crypto/identity.js';
import { ServerPins } from './pins.js';
import { UdpchatError, isUdpchatError } from '../protocol/errors.js';
import { COMMAND_NAMES, parseLine } from './commands.js';
import { dispatch, type CommandContext } from './dispatch.js';
import { SCREEN_COLUMNS, errorEvent, renderLines, type OutputEvents } from './render.js';
import { dress, PLAIN, wantsColour, type LineStyle } from './style.js';
import { INTERRUPTED, Terminal } from './terminal.js';
import { jsonLine, visible } from './visible.js';
import { nodeClock, settleWithin } from '../util/clock.js';
import { makeFolder } from '../util/files.js';

/** Lines are never fitted to fewer columns: a narrower terminal breaks them itself. */
const MIN_COLUMNS = 40;

export interface ClientConfig {
  nick: string;
  serverHost: string;
  serverPort: number;
  port: number;
  host: string | undefined;
  dataDir: string;
  json: boolean;
  ackTimeoutMs: number;
  retries: number;
  heartbeatIntervalMs: number | undefined;
  /** Other registry nodes to fail over to. */
  servers: Array<{ host: string; port: number }>;
  /** Log in to the nick's account, or make one, with a password asked for (or UDPCHAT_PASSWORD). */
  account: 'login' | 'create' | undefined;
  /** --no-color given. */
  noColor: boolean;
  timestamps: boolean;
  bell: boolean;
  /** --fsync: the outbox, contacts and claims in the data folder flushed as they are written. */
  fsync: boolean;
}

/** Tries at a password on a terminal before giving up. */
export const PASSWORD_TRIES = 3;

export const PROMPT = '>>> ';

/** How long a registration goes unanswered before a terminal says which server it waits for. */
export const WAITING_LINE_MS = 1000;

/** The exit status of Ctrl+C at a question (a password), as a shell gives a program SIGINT ended. */
export const INTERRUPTED_STATUS = 130;

/** Runs a client on stdin/stdout until quit, EOF or a signal; resolves with the exit status. */
export async function runClient(config: ClientConfig, log: Logger): Promise<number> {
  const nickDir = join(config.dataDir, config.nick);
  // Folders made here are on disk, as the identity made in them is (identity.ts).
  await makeFolder(nickDir, { durable: true });
  let completionClient: ChatClient | undefined; // the client, once made: Tab completes its table's nicks
  const terminal = await Terminal.open({
    input: process.stdin,
    // --json is for programs: no prompt, no redraws, one object per line.
    output: config.json ? Object.assign(process.stdout, { isTTY: false }) : process.stdout,
    prompt: PROMPT,
    historyFile: join(nickDir, 'history'),
    // Tab: a command first, then nicks from the local table.
    completions: (position) =>
      position === 0 ? COMMAND_NAMES : (completionClient?.table().map((entry) => entry.nick) ?? []),
  });
  let group: string | undefined; // the group whose mode the screen is in
  let chatPartner: string | undefined; // the nick a `chat` conversation is with
  const style: LineStyle = terminal.interactive
    ? {
        colour: wantsColour(true, config.noColor),
        timestamps: config.timestamps,
        bell: config.bell,
      }
    : PLAIN;
  /** In group mode every line carries the group's name, as the prompt does. */
  const show = <K extends keyof OutputEvents>(event: K, payload: OutputEvents[K]) => {
    if (config.json) {
      terminal.print(jsonLine({ event, ...payload }));
      return;
    }
    const tag = group ? `(${group}) ` : '';
    // Help's rows and udpchat's own lines fit the terminal's width (80 columns on a pipe) with
    // what goes before them: a time stamp, the group's tag.
    const width =
      process.stdout.isTTY && process.stdout.columns
        ? Math.max(MIN_COLUMNS, process.stdout.columns)
        : SCREEN_COLUMNS;
    const before = (style.timestamps ? 'HH:MM '.length : 0) + tag.length;
    // Every line may carry what a peer or the registry sent: made visible, never obeyed.
    for (const line of renderLines(event, payload, width - before)) {
      terminal.print(
        dress(visible(tag ? line.replace(/^>>> /, `>>> ${tag}`) : line), event, payload, style),
      );
    }
  };
  /** The prompt names the conversation: the group while in one, else the chat partner. */
  const updatePrompt = () =>
    terminal.setPrompt(
      group ? `${PROMPT}(${group}) ` : chatPartner ? `${PROMPT}@${chatPartner} ` : PROMPT,
    );
  const enterGroupMode = (name: string | undefined) => {
    group = name;
    updatePrompt();
  };
  const chatWith = (nick: string | undefined) => {
    chatPartner = nick;
    updatePrompt();
  };
  const showError = (error: unknown, nick?: string) => {
    if (error instanceof UdpchatError) show('error', errorEvent(error, nick));
    else {
      log.error({ err: error }, 'unexpected error');
      show('error', { code: 'ERR_INTERNAL', message: String((error as Error)?.message ?? error) });
    }
  };

  const pins = new ServerPins(
    join(nickDir, 'servers.json'),
    `${config.serverHost}:${config.serverPort}`,
  );
  let client: ChatClient;
  try {
    client = await ChatClient.open(
      {
        nick: config.nick,
        server: { host: config.serverHost, port: config.serverPort },
        port: config.port,
        host: config.host,
        ackTimeoutMs: config.ackTimeoutMs,
        serverTimeoutMs: config.ackTimeoutMs,
        serverTries: config.retries,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        serverKey: pins.get(),
        servers: config.servers,
      },
      {
        logger: log,
        outbox: new FileOutbox(join(nickDir, 'outbox.json'), { durable: config.fsync }),
        contacts: new FileContacts(join(nickDir, 'contacts.json'), { durable: config.fsync }),
        signedTaken: new FileClaims(join(nickDir, 'signed'), { durable: config.fsync }),
        identity: await loadOrCreateIdentity(join(nickDir, 'identity.json')),
      },
    );
    completionClient = client;
  } catch (error) {
    terminal.close();
    throw error;
  }
  // Pinned on disk before the registration goes on (see pins.ts).
  client.on('server-key', ({ sk }) => {
    try {
      pins.set(sk);
    } catch (error) {
      log.warn({ err: error }, 'could not pin the server key');
    }
  });
  // Messages kept from the last run, by mid, until their outcome is told: on a screen, the
  // outcome's line is followed by which message it was (its own line names neither).
  const fromLastTime = new Map<string, { to: string; text: string }>();
  client.onAny((event, payload) => {
    // Leaving (or being removed from) a group ends group mode before its line is shown.
    if (event === 'left-group' || event === 'removed-from-group') enterGroupMode(undefined);
    show(event, payload as never);
    if (config.json) return;
    if (event === 'resumed')
      for (const { mid, to, text } of (payload as OutputEvents['resumed']).messages)
        fromLastTime.set(mid, { to, text });
    else if (event === 'delivered' || event === 'saved' || event === 'send-failed') {
      const { mid } = payload as OutputEvents['saved'];
      const message = fromLastTime.get(mid);
      if (!message) return;
      fromLastTime.delete(mid);
      show('from-last-time', message);
    }
  });

  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const underway = new Set<Promise<unknown>>();
  let leaving = false;
  let commands: Promise<void> = Promise.resolve();

  /**
   * Gives the sends under way a moment to settle (what cannot, such as a message waiting
   * for a registry that is down, stays in the outbox for the next start), goes offline if
   * online, and frees the port.
   */
  const leave = async (code: number, { deregister } = { deregister: true }) => {
    if (leaving) return;
    leaving = true;
    const patience = config.ackTimeoutMs * (config.retries + 1);
    const settled = Promise.allSettled([commands, ...underway]);
    await settleWithin(settled, patience, nodeClock({ unref: true }));
    // Leaving the group shows what it held (even if the registry does not answer).
    if (client.group) await client.leaveGroup().catch(() => undefined);
    enterGroupMode(undefined);
    if (client.unsettled > 0) show('kept', { count: client.unsettled });
    if (deregister && client.state === 'online') await client.deregister().catch(() => undefined);
    await client.close();
    terminal.close();
    resolveExit(code);
  };
  const track = (work: Promise<unknown>) => {
    underway.add(work);
    void work.finally(() => {
      underway.delete(work);
      if (!leaving) terminal.prompt();
    });
  };

  // A signal from here on leaves properly: one during the registration waits for it, then deregisters.
  process.once('SIGINT', () => void leave(0));
  process.once('SIGTERM', () => void leave(0));
  // The reader went away (`udpchat -c … | head -2`: EPIPE): leave as on a signal, deregistered.
  process.stdout.on('error', () => void leave(0));
  const registering = registerWithAccount(client, config, terminal, show, showError);
  underway.add(registering);
  const registered = await registering.finally(() => underway.delete(registering));
  if (leaving) return exited;
  if (registered !== true) {
    await client.close();
    terminal.close();
    return registered === INTERRUPTED ? INTERRUPTED_STATUS : 1;
  }

  const context: CommandContext = {
    client,
    nick: config.nick,
    show,
    showError,
    enterGroupMode,
    get chatPartner() {
      return chatPartner;
    },
    chatWith,
    lastPage: undefined,
    track,
    leave,
  };
  terminal.onLine((line) => {
    commands = commands.then(async () => {
      if (leaving) return;
      await dispatch(
        parseLine(line, client.group !== undefined || chatPartner !== undefined),
        context,
      );
      if (!leaving) terminal.prompt();
    });
  });
  // End of input takes its turn: every line before it is carried out first.
  terminal.onClose(() => {
    commands = commands.then(() => void leave(0));
  });
  terminal.onInterrupt(() => void leave(0));
  terminal.prompt();
  return exited;
}

/** Characters a new account's password needs at least. */
const NEW_PASSWORD_CHARS = 8;
/** What askPassword gives when the two entries of a new password differ. */
const MISMATCH = Symbol('mismatch');

/** A password asked without echo; a new one twice (MISMATCH when they differ). */
async function askPassword(
  terminal: Terminal,
  account: 'login' | 'create',
): Promise<string | typeof MISMATCH | typeof INTERRUPTED | undefined> {
  if (account === 'login') return terminal.askHidden('Password: ');
  const first = await terminal.askHidden('Choose a password: ');
  // One that cannot do (none, too short) is said at once, not asked for a second time first.
  if (typeof first !== 'string' || !terminal.interactive) return first;
  if (passwordProblem(first, 'create')) return first;
  const second = await terminal.askHidden('Type it again: ');
  return second === INTERRUPTED || second === first ? second : MISMATCH;
}

function passwordProblem(
  password: string | typeof MISMATCH | undefined,
  account: 'login' | 'create',
) {
  if (password === undefined || password === '') return 'ERR_NO_PASSWORD';
  if (password === MISMATCH) return 'ERR_PASSWORDS_DIFFER';
  if (account === 'create' && [...password].length < NEW_PASSWORD_CHARS)
    return 'ERR_SHORT_PASSWORD';
  return undefined;
}

/**
 * Registers, with the account flow when asked for: a wrong password is said and asked
 * again (a few times, on a terminal); an unknown account ends with the "No account" line;
 * Ctrl+C at the question gives INTERRUPTED, nothing said.
 * A new password needs NEW_PASSWORD_CHARS characters, and on a terminal is typed twice. The password comes from UDPCHAT_PASSWORD when set, else it is asked without echo.
 */
async function registerWithAccount(
  client: ChatClient,
  config: ClientConfig,
  terminal: Terminal,
  show: <K extends keyof OutputEvents>(event: K, payload: OutputEvents[K]) => void,
  showError: (error: unknown, nick?: string) => void,
): Promise<boolean | typeof INTERRUPTED> {
  const fromEnvironment = process.env.UDPCHAT_PASSWORD;
  const askAgain = fromEnvironment === undefined && terminal.interactive;
  for (let attempt = 1; ; attempt++) {
    if (config.account) {
      const password = fromEnvironment ?? (await askPassword(terminal, config.account));
      if (password === INTERRUPTED) return INTERRUPTED; // Ctrl+C at the question: leave, quietly
      const problem = passwordProblem(password, config.account);
      if (problem || typeof password !== 'string') {
        show('error', { code: problem ?? 'ERR_NO_PASSWORD', message: 'no usable password' });
        if (problem === 'ERR_NO_PASSWORD' || !askAgain || attempt >= PASSWORD_TRIES) return false;
        continue;
      }
      client.useAccount(password, config.account);
    }
    // On a terminal, a server that has not answered within a second (or one try) is named,
    // not waited on in silence.
    const waiting =
      terminal.interactive && !config.json
        ? setTimeout(
            () => show('waiting', { server: client.server }),
            Math.max(WAITING_LINE_MS, config.ackTimeoutMs),
          )
        : undefined;
    try {
      await client.registerAnywhere();
      return true;
    } catch (error) {
      if (isUdpchatError(error, 'ERR_TIMEOUT')) {
        show('exiting', { reason: 'server not responding' });
        return false;
      }
      showError(error, config.nick);
      const again =
        isUdpchatError(error, 'ERR_BAD_PASSWORD') &&
        fromEnvironment === undefined &&
        terminal.interactive;
      if (!again) return false;
      if (attempt >= PASSWORD_TRIES) {
        show('password-tries', { tries: attempt });
        return false;
      }
    } finally {
      clearTimeout(waiting);
    }
  }
}
