// The registry keys a client has met, per server address (trust on first use, as ssh does with
// known_hosts): one JSON object in the nick's data directory.
//
// A pin is written the moment the key is met, synchronously, before the registration that
// follows the hello goes out: a client that quits (or is killed) right after its welcome still
// has it at its next start, rather than trusting whatever key answers then. It is written to a
// temporary file that then takes the file's place, so a crash mid-write leaves the old pins
// whole rather than a torn file read as "no pins".
import { readFileSync } from 'node:fs';
import { replaceFileSync } from '../util/files.js';

export class ServerPins {
  constructor(
    readonly path: string,
    readonly server: string,
  ) {}

  get(): string | undefined {
    return this.#read()[this.server];
  }

  /** Pins `key` for this server; on disk when it returns. */
  set(key: string): void {
    const pins = this.#read();
    pins[this.server] = key;
    replaceFileSync(this.path, `${JSON.stringify(pins, null, 2)}\n`, 0o600);
  }

  #read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }
}
