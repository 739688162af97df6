// The checks on command-line values (ports, hosts, nicks, counts, log levels), the usage text and
// the default data directory: what a bad argument says is said in one place for both readers.
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nickProblem } from '../protocol/nick.js';

/** A bad command-line argument: the CLI prints it with the usage and exits 2. */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}

/** The ways to run udpchat, with what each does. */
const FORMS: Array<[string, string?]> = [
  ['udpchat -s <port> [options]', 'run the registry server'],
  ['udpchat -c <nick> <server-ip> <server-port> <client-port> [options]', 'run a client'],
  ['udpchat --help | --version'],
];

/** After a usage error: each form, and what it does on a row of its own (within 80 columns). */
export const USAGE = [
  'Usage:',
  ...FORMS.flatMap(([form, what]) => [`  ${form}`, ...(what ? [`      ${what}`] : [])]),
].join('\n');

/** `--help`'s first lines: the forms alone, as its options' list says what -s and -c are. */
export const HELP_USAGE = ['Usage:', ...FORMS.map(([form]) => `  ${form}`)].join('\n');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parsePort(name: string, value: string | undefined): number {
  const text = String(value ?? '');
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (text === '') throw new ArgumentError(`${name} needs a port number from 1024 to 65535`);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    throw new ArgumentError(`${name} must be a port number from 1024 to 65535, not '${text}'`);
  }
  return port;
}

export function parseHost(name: string, value: string | undefined): string {
  const text = String(value ?? '');
  if (isIP(text) === 0 && !HOST_NAME.test(text)) {
    throw new ArgumentError(
      `${name} must be an IPv4 or IPv6 address or a host name, not '${text}'`,
    );
  }
  return text;
}

export function parseNick(value: string | undefined): string {
  const text = String(value ?? '');
  const problem = nickProblem(text);
  if (problem) throw new ArgumentError(`nick '${text}' is not allowed: ${problem}`);
  return text;
}

export function parseCount(name: string, value: unknown, min: number, max: number): number {
  const text = String(value);
  const count = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(count) || count < min || count > max) {
    throw new ArgumentError(`${name} must be a whole number from ${min} to ${max}, not '${text}'`);
  }
  return count;
}

export function parseLogLevel(value: unknown): LogLevel {
  const text = String(value);
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new ArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not '${text}'`);
  }
  return text as LogLevel;
}

/** `$XDG_DATA_HOME/udpchat`, else `~/.local/share/udpchat`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0
      ? env.XDG_DATA_HOME
      : join(homedir(), '.local', 'share');
  return join(base, 'udpchat');
}
