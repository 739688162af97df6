// The CLI's entry: reads the command line (the quick reader for a plain start, yargs otherwise),
// checks which options go with -s and which with -c, and starts a registry or a client. Bad
// arguments print the usage and exit 2; a failure to start exits 1. pino loads only when a
// log needs it: for a registry at once, for a client at its first record (see deferred-log.ts).
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MAX_PAGE_ENTRIES, MAX_TABLE_PAGES } from '../protocol/constants.js';
import { isUdpchatError } from '../protocol/errors.js';
import {
  ArgumentError,
  USAGE,
  defaultDataDir,
  parseCount,
  parseHost,
  parseLogLevel,
  parseNick,
  parsePort,
  type LogLevel,
} from './args.js';
import { quickArguments, type Arguments } from './quick-arguments.js';
import { deferredLog } from './deferred-log.js';
import { SILENT_LOG } from '../util/silent-log.js';

const SERVER_ONLY = [
  'db',
  'probe-timeout',
  'rate-limit',
  'hello-rate',
  'relay-messages',
  'relay-bytes',
  'nat-probe-port',
  'mailbox-messages',
  'mailbox-per-sender',
  'max-clients',
  'table-limit',
  'store',
  'metrics',
  'node',
] as const;
const CLIENT_ONLY = [
  'json',
  'color',
  'ack-timeout',
  'retries',
  'password',
  'new-account',
  'servers',
  'timestamps',
  'bell',
] as const;

/** An option's one value, as text: options are strings (or flags), an array when repeated. */
function single(name: string, value: unknown): string | undefined {
  if (Array.isArray(value)) throw new ArgumentError(`${name} is given more than once`);
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  return value as string | undefined;
}

function parseStoreUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const single = /^rediss?:\/\/[^\s/]+(\/\d+)?$/;
  const cluster = /^rediss?-cluster:\/\/([^\s/@]*@)?[^\s/@,]+:\d+(,[^\s/@,]+:\d+)*$/;
  if (!single.test(value) && !cluster.test(value)) {
    throw new ArgumentError(
      `--store must be redis://host:port[/db] or redis-cluster://host:port[,host:port...], not '${value}'`,
    );
  }
  return value;
}

/**
 * `--fsync`: for a registry, which only the lowdb store takes (Redis is as durable as its own
 * appendfsync); for a client, its files in its data folder.
 */
function fsyncFor(args: Arguments): boolean {
  const given = single('--fsync', args.fsync);
  if (given === undefined || given === 'false') return false;
  if (args.store !== undefined)
    throw new ArgumentError(
      '--fsync is for the lowdb store: Redis flushes as its appendfsync says',
    );
  return true;
}

function parseServers(value: string | undefined): Array<{ host: string; port: number }> {
  if (value === undefined) return [];
  return value.split(',').map((item) => {
    const cut = item.lastIndexOf(':');
    if (cut <= 0)
      throw new ArgumentError(`--servers takes host:port[,host:port...], not '${item}'`);
    return {
      host: parseHost('a --servers host', item.slice(0, cut).replace(/^\[|\]$/g, '')),
      port: parsePort('a --servers port', item.slice(cut + 1)),
    };
  });
}

function optionalCount(name: string, value: unknown, min: number, max: number): number | undefined {
  const text = single(name, value);
  return text === undefined ? undefined : parseCount(name, text, min, max);
}

function optionalPort(name: string, value: unknown): number | undefined {
  const text = single(name, value);
  return text === undefined ? undefined : parsePort(name, text);
}

function commonOptions(args: Arguments, defaultLevel: LogLevel) {
  const host = single('--host', args.host);
  const logLevel = single('--log-level', args['log-level']);
  const heartbeat = single('--heartbeat-interval', args['heartbeat-interval']);
  return {
    heartbeatIntervalMs:
      heartbeat === undefined
        ? undefined
        : parseCount('--heartbeat-interval', heartbeat, 10, 3_600_000),
    host: host === undefined ? undefined : parseHost('--host', host),
    logLevel: logLevel === undefined ? defaultLevel : parseLogLevel(logLevel),
    logFile: single('--log-file', args['log-file']),
    dataDir: single('--data-dir', args['data-dir']) ?? defaultDataDir(),
  };
}

async function main(): Promise<number> {
  // A plain start is read without yargs (loading it is a good part of a client's start-up);
  // anything else, help and version included, is read by yargs, as before.
  let args: Arguments;
  try {
    args =
      quickArguments(process.argv.slice(2)) ??
      (await import('./yargs-arguments.js')).parseArguments();
  } catch (error) {
    return usageError((error as Error).message);
  }
  const positionals = args._.map(String);
  try {
    const serverPort = single('-s', args.s);
    const clientNick = single('-c', args.c);
    if (serverPort !== undefined && clientNick !== undefined)
      throw new ArgumentError('-s and -c cannot be used together');
    const misplaced = (
      serverPort !== undefined ? CLIENT_ONLY : clientNick !== undefined ? SERVER_ONLY : []
    ).find((name) => args[name] !== undefined && args[name] !== false);
    if (misplaced) {
      throw new ArgumentError(
        `--${misplaced} is a ${serverPort !== undefined ? 'client' : 'server'} option`,
      );
    }
    if (serverPort !== undefined) {
      if (positionals.length > 0)
        throw new ArgumentError(`unexpected argument '${positionals[0]}' after -s <port>`);
      const port = parsePort('the server port (-s)', serverPort);
      const common = commonOptions(args, 'info');
      const probe = single('--probe-timeout', args['probe-timeout']);
      const { createLogger } = await import('./logger.js');
      const log = await createLogger(common.logLevel, common.logFile, 'udpchat-registry');
      const { runServer } = await import('./run-server.js');
      return await runServer(
        {
          port,
          host: common.host,
          db: single('--db', args.db) ?? join(common.dataDir, `registry-${port}.json`),
          probeTimeoutMs:
            probe === undefined ? undefined : parseCount('--probe-timeout', probe, 1, 60_000),
          heartbeatIntervalMs: common.heartbeatIntervalMs,
          rateLimitPerSecond: optionalCount('--rate-limit', args['rate-limit'], 1, 1_000_000),
          hellosPerAddress: optionalCount('--hello-rate', args['hello-rate'], 1, 1_000_000),
          relayMessagesPerPair: optionalCount(
            '--relay-messages',
            args['relay-messages'],
            0,
            1_000_000,
          ),
          relayBytesPerPair: optionalCount('--relay-bytes', args['relay-bytes'], 0, 1_000_000_000),
          natProbePort: optionalPort('--nat-probe-port', args['nat-probe-port']),
          mailboxMessages: optionalCount(
            '--mailbox-messages',
            args['mailbox-messages'],
            1,
            1_000_000,
          ),
          mailboxMessagesPerSender: optionalCount(
            '--mailbox-per-sender',
            args['mailbox-per-sender'],
            1,
            1_000_000,
          ),
          maxClients: optionalCount(
            '--max-clients',
            args['max-clients'],
            1,
            MAX_TABLE_PAGES * MAX_PAGE_ENTRIES,
          ),
          tableLimit: optionalCount(
            '--table-limit',
            args['table-limit'],
            0,
            MAX_TABLE_PAGES * MAX_PAGE_ENTRIES,
          ),
          redisUrl: parseStoreUrl(single('--store', args.store)),
          fsync: fsyncFor(args),
          node: single('--node', args.node),
          metricsPort: optionalPort('--metrics', args.metrics),
        },
        log,
      ).catch((error) => fatal(error, port));
    }
    if (clientNick !== undefined) {
      if (positionals.length !== 3) {
        throw new ArgumentError('-c needs <nick> <server-ip> <server-port> <client-port>');
      }
      const [serverHost, serverPortText, clientPortText] = positionals as [string, string, string];
      const config = {
        nick: parseNick(clientNick),
        serverHost: parseHost('the server address', serverHost),
        serverPort: parsePort('the server port', serverPortText),
        port: parsePort('the client port', clientPortText),
        json: Boolean(args.json),
        ackTimeoutMs: parseCount(
          '--ack-timeout',
          single('--ack-timeout', args['ack-timeout']) ?? '500',
          1,
          60_000,
        ),
        retries: parseCount('--retries', single('--retries', args.retries) ?? '5', 1, 100),
        account: args['new-account']
          ? ('create' as const)
          : args.password
            ? ('login' as const)
            : undefined,
        servers: parseServers(single('--servers', args.servers)),
        noColor: args.color === false,
        timestamps: Boolean(args.timestamps),
        bell: Boolean(args.bell),
        fsync: fsyncFor(args),
      };
      if (args['new-account'] && args.password)
        throw new ArgumentError('--password and --new-account cannot be used together');
      const common = commonOptions(args, 'warn');
      const log = await clientLog(common.logLevel, common.logFile, `udpchat-${config.nick}`);
      const { runClient } = await import('./run-client.js');
      return await runClient(
        {
          ...config,
          host: common.host,
          dataDir: common.dataDir,
          heartbeatIntervalMs: common.heartbeatIntervalMs,
        },
        log,
      ).catch((error) => fatal(error, config.port));
    }
    throw new ArgumentError('nothing to run: give -s to run a registry, or -c to run a client');
  } catch (error) {
    if (error instanceof ArgumentError) return usageError(error.message);
    throw error;
  }
}

/**
 * The client's logger. To stderr, pino loads only when a record first needs it (see
 * deferred-log.ts); to a file, at once (the file is there from the start, as the user asked).
 */
async function clientLog(level: LogLevel, file: string | undefined, name: string): Promise<Logger> {
  if (level === 'silent') return SILENT_LOG;
  if (file !== undefined) return (await import('./logger.js')).createLogger(level, file, name);
  const deferred = deferredLog(
    level,
    async () => (await import('./logger.js')).createLogger(level, undefined, name),
    (line) => writeSync(2, line),
    { pid: process.pid, name },
  );
  process.once('exit', () => deferred.writeHeld());
  return deferred.log;
}

function usageError(message: string): number {
  process.stderr.write(`udpchat: ${message}\n${USAGE}\nRun 'udpchat --help' for the options.\n`);
  return 2;
}

function fatal(error: unknown, port: number): number {
  if (isUdpchatError(error, 'ERR_PORT_IN_USE')) {
    process.stderr.write(`udpchat: port ${port} is already in use\n`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'EADDRNOTAVAIL') {
    const { address } = error as NodeJS.ErrnoException & { address?: string };
    process.stderr.write(
      `udpchat: cannot listen on ${address ?? '--host'}: not an address of this machine\n`,
    );
  } else if (['ENOTFOUND', 'EAI_AGAIN'].includes((error as NodeJS.ErrnoException)?.code ?? '')) {
    const { code, hostname } = error as NodeJS.ErrnoException & { hostname?: string };
    const why = code === 'EAI_AGAIN' ? ': no name server answered' : '';
    process.stderr.write(`udpchat: cannot resolve host '${hostname ?? ''}'${why}\n`);
  } else {
    process.stderr.write(`udpchat: ${(error as Error)?.message ?? String(error)}\n`);
  }
  return 1;
}

// No top-level await: the bundle is CommonJS (see bin/bundle.mjs).
void main().then((code) => {
  // Leave once stdout has taken every line (an empty write's callback is not to be relied on).
  if (process.stdout.writableNeedDrain) process.stdout.once('drain', () => process.exit(code));
  else process.exit(code);
});
