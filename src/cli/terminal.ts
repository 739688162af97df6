import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import readline from 'node:readline';

export interface TerminalOptions {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
  prompt: string;
  /** Where typed lines are kept between runs (interactive terminals only). */
  historyFile?: string;
}

const HISTORY_LINES = 500;

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
    });
  }

  static async open(options: TerminalOptions): Promise<Terminal> {
    const interactive = Boolean(options.input.isTTY && options.output.isTTY);
    const history = interactive && options.historyFile ? await loadHistory(options.historyFile) : [];
    return new Terminal(options, history);
  }

  onLine(listener: (line: string) => void): void {
    this.#rl.on('line', (line) => {
      if (this.#historyFile && line.trim() !== '') {
        appendFile(this.#historyFile, `${line}\n`, { mode: 0o600 }).catch(() => undefined);
      }
      listener(line);
    });
  }

  /** End of input (Ctrl+D, or the pipe closed). */
  onClose(listener: () => void): void {
    this.#rl.on('close', listener);
  }

  /** Ctrl+C typed at the prompt. */
  onInterrupt(listener: () => void): void {
    this.#rl.on('SIGINT', listener);
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
    readline.cursorTo(this.#output, 0);
    readline.clearLine(this.#output, 0);
    this.#output.write(`${line}\n`);
    this.#rl.prompt(true);
  }

  close(): void {
    this.#rl.close();
  }
}

async function loadHistory(file: string): Promise<string[]> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '');
    return lines.slice(-HISTORY_LINES).reverse();
  } catch {
    return [];
  }
}
