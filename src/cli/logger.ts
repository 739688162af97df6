// The CLI's logger (pino). Logs go to stderr or a file, synchronously so nothing is lost at exit,
// and never to stdout, where the chat lines are. A person watching stderr in a terminal gets one
// readable line per event; a file or a pipe gets pino's JSON.
import pino, { type Logger } from 'pino';
import type { LogLevel } from './args.js';

export async function createLogger(
  level: LogLevel,
  file: string | undefined,
  name: string,
): Promise<Logger> {
  if (!file && process.stderr.isTTY && level !== 'silent') {
    const { default: pretty } = await import('pino-pretty');
    return pino(
      { name, level },
      pretty({
        destination: 2,
        sync: true,
        translateTime: 'SYS:yyyy-mm-dd HH:MM:ss',
        ignore: 'pid,hostname,name',
        singleLine: true,
      }),
    );
  }
  const destination = file
    ? pino.destination({ dest: file, mkdir: true, sync: true })
    : pino.destination({ fd: 2, sync: true });
  return pino({ name, level }, destination);
}
