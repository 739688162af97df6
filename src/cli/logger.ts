import pino, { type Logger } from 'pino';
import type { LogLevel } from './args.js';

/**
 * Logs go to stderr or a file, synchronously so nothing is lost at exit, and never to
 * stdout, where the chat lines are.
 */
export function createLogger(level: LogLevel, file: string | undefined, name: string): Logger {
  const destination = file
    ? pino.destination({ dest: file, mkdir: true, sync: true })
    : pino.destination({ fd: 2, sync: true });
  return pino({ name, level }, destination);
}
