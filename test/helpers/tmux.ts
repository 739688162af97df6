import { execFileSync, spawnSync } from 'node:child_process';
import type { Test } from 'tap';

export const haveTmux = spawnSync('tmux', ['-V']).status === 0;

/**
 * `command` in a real terminal (a tmux session on a server of this test's own), with the
 * screen to read and keys to type; the server is killed at teardown.
 */
export function terminalSession(
  t: Test,
  name: string,
  command: string[],
  { width = 100, height = 20 } = {},
) {
  const socket = `udpchat-${name}-${process.pid}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  t.teardown(() => void spawnSync('tmux', ['-L', socket, 'kill-server']));
  tmux(
    'new-session',
    '-d',
    '-s',
    name,
    '-x',
    String(width),
    '-y',
    String(height),
    command.join(' '),
  );
  /** The screen's rows (`joined`: a line wrapped over rows as one; `escapes`: with its colours). */
  const screen = ({ joined = false, escapes = false } = {}) =>
    tmux('capture-pane', '-p', ...(joined ? ['-J'] : []), ...(escapes ? ['-e'] : []), '-t', name)
      .split('\n')
      .map((line) => line.trimEnd())
      .filter(Boolean);
  return {
    tmux,
    screen,
    /** Types `text` as it is (no Enter). */
    type: (text: string) => void tmux('send-keys', '-t', name, '-l', text),
    /** Presses keys by name: Enter, Up, C-c, C-u. */
    press: (...keys: string[]) => keys.forEach((key) => tmux('send-keys', '-t', name, key)),
    running: () => spawnSync('tmux', ['-L', socket, 'has-session', '-t', name]).status === 0,
    waitScreen: async (
      check: (lines: string[]) => boolean,
      what: string,
      view: { joined?: boolean } = {},
    ) => {
      const deadline = Date.now() + 20_000;
      while (!check(screen(view))) {
        if (Date.now() > deadline)
          throw new Error(`screen never showed ${what}:\n${screen(view).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/**
 * A shell command line that runs `command`, then shows its exit status and stays, so the
 * screen can still be read once the program has ended.
 */
export function showingExit(command: string[]): string[] {
  return [...command, ';', 'echo', 'exit=$?;', 'sleep', '600'];
}
