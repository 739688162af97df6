// The chat screen: a prompt that keeps the half-typed line below lines that arrive meanwhile, and
// history on a terminal; plain line-by-line reading and writing on a pipe.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import readline from 'node:readline';
import { replaceFile } from '../util/files.js';

export interface TerminalOptions {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
  prompt: string;
  /** Where typed lines are kept between runs (interactive terminals only). */
  historyFile?: string;
  /**
   * What Tab may complete the word under the cursor to, given its place on the line (0: the
   * command) and the line's first word (interactive terminals only).
   */
  completions?: (position: number, command: string) => readonly string[];
}

/** Lines of history loaded; the file is cut back to them once it holds twice as many. */
export const HISTORY_LINES = 500;

/** What `askHidden` gives when Ctrl+C is typed at its question. */
export const INTERRUPTED = Symbol('interrupted');

/**
 * The chat screen. On a terminal, a line printed while the user is typing goes above the
 * prompt and the half-typed line is drawn again below it; the arrow keys walk the history.
 * On a pipe there is no prompt and lines are written as they come.
 */
export class Terminal {
  readonly interactive: boolean;
  readonly #rl: readline.Interface;
  readonly #output: NodeJS.WritableStream;
  readonly #historyFile: string | undefined;
  /** Lines typed before anyone listens (during registration), kept in order, and end of input. */
  readonly #early: string[] = [];
  #lineListener: ((line: string) => void) | undefined;
  #hidden: ((line: string | undefined | typeof INTERRUPTED) => void) | undefined;
  #ended = false;
  readonly #endListeners: Array<() => void> = [];

  private constructor(options: TerminalOptions, history: string[]) {
    this.interactive = Boolean(options.input.isTTY && options.output.isTTY);
    this.#output = options.output;
    this.#historyFile = this.interactive ? options.historyFile : undefined;
    this.#rl = readline.createInterface({
      input: options.input,
      output: this.interactive ? options.output : undefined,
      terminal: this.interactive,
      prompt: options.prompt,
      history,
      historySize: HISTORY_LINES,
      ...(this.interactive && options.completions
        ? { completer: completerOf(options.completions) }
        : {}),
    });
    this.#rl.on('line', (line) => {
      const hidden = this.#hidden;
      if (hidden) {
        this.#hidden = undefined;
        return hidden(line);
      }
      if (this.#lineListener) this.#lineListener(line);
      else this.#early.push(line);
    });
    this.#rl.on('close', () => {
      this.#ended = true;
      this.#hidden?.(undefined);
      for (const listener of this.#endListeners.splice(0)) listener();
    });
  }

  static async open(options: TerminalOptions): Promise<Terminal> {
    const interactive = Boolean(options.input.isTTY && options.output.isTTY);
    const history =
      interactive && options.historyFile ? await loadHistory(options.historyFile) : [];
    return new Terminal(options, history);
  }

  /** Every line typed, in order: those typed before this call first. */
  onLine(listener: (line: string) => void): void {
    this.#lineListener = (line) => {
      if (this.#historyFile && line.trim() !== '') {
        appendFile(this.#historyFile, `${line}\n`, { mode: 0o600 }).catch(() => undefined);
      }
      listener(line);
    };
    for (const line of this.#early.splice(0)) this.#lineListener(line);
  }

  /** End of input (Ctrl+D, or the pipe closed), even if it came before this call. */
  onClose(listener: () => void): void {
    if (this.#ended) queueMicrotask(listener);
    else this.#endListeners.push(listener);
  }

  /** Ctrl+C typed at the prompt. */
  onInterrupt(listener: () => void): void {
    this.#rl.on('SIGINT', listener);
  }

  /**
   * Asks for a secret: on a terminal what is typed is not shown; on a pipe the next line
   * is taken. Resolves undefined at end of input, INTERRUPTED on Ctrl+C.
   */
  askHidden(question: string): Promise<string | undefined | typeof INTERRUPTED> {
    if (this.#early.length > 0) return Promise.resolve(this.#early.shift());
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const rl = this.#rl as readline.Interface & { _writeToOutput?: (text: string) => void };
      const original = rl._writeToOutput;
      if (this.interactive) {
        readline.cursorTo(this.#output, 0);
        readline.clearLine(this.#output, 0); // no chat prompt in front of the question
        this.#output.write(question);
        rl._writeToOutput = () => undefined; // nothing typed is echoed
      }
      const interrupted = () => this.#hidden?.(INTERRUPTED);
      this.#rl.once('SIGINT', interrupted);
      this.#hidden = (answer) => {
        this.#hidden = undefined;
        this.#rl.off('SIGINT', interrupted);
        if (this.interactive) {
          rl._writeToOutput = original;
          this.#output.write('\n');
        }
        resolve(answer);
      };
    });
  }

  prompt(): void {
    if (this.interactive) this.#rl.prompt(true);
  }

  setPrompt(prompt: string): void {
    this.#rl.setPrompt(prompt);
  }

  /** Prints above the prompt without destroying what the user has half-typed. */
  print(line: string): void {
    if (!this.interactive) {
      this.#output.write(`${line}\n`);
      return;
    }
    this.#clearPrompt();
    this.#output.write(`${line}\n`);
    // Past the end of input (Ctrl+D) the lines are the last ones: no prompt under them.
    if (!this.#ended) this.#rl.prompt(true);
  }

  /** Leaves the screen without a prompt at the bottom (a terminal's own prompt comes next). */
  close(): void {
    if (this.interactive && !this.#ended) this.#clearPrompt();
    this.#rl.close();
  }

  /**
   * The prompt and a half-typed line may wrap over several rows: goes up to the first and
   * clears from there down.
   */
  #clearPrompt(): void {
    readline.moveCursor(this.#output, 0, -this.#rl.getCursorPos().rows);
    readline.cursorTo(this.#output, 0);
    readline.clearScreenDown(this.#output);
  }
}

/**
 * The last HISTORY_LINES lines typed, most recent first. A file grown past twice that is cut
 * back to them (written whole to a temporary file that then takes its place): it holds what
 * was typed, messages included, and does not grow without end.
 */
export async function loadHistory(file: string): Promise<string[]> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let lines: string[];
  try {
    lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  } catch {
    return [];
  }
  const kept = lines.slice(-HISTORY_LINES);
  if (lines.length > 2 * HISTORY_LINES) {
    await replaceFile(file, `${kept.join('\n')}\n`, { mode: 0o600 }).catch(() => undefined);
  }
  return kept.reverse();
}

/** readline's completer over `completions`: the words that start with what is typed of the last one. */
function completerOf(completions: NonNullable<TerminalOptions['completions']>): readline.Completer {
  return (line: string) => {
    const words = line.trimStart().split(/\s+/);
    const typed = words.at(-1) ?? '';
    const hits = completions(words.length - 1, words[0] ?? '').filter((word) =>
      word.startsWith(typed),
    );
    return [hits.map((word) => `${word} `), typed];
  };
}
