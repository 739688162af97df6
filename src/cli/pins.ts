// The registry keys a client has met, per server address (trust on first use, as ssh does with
// known_hosts): one JSON object in the nick's data directory.
//
// A pin is written the moment the key is met, synchronously, before the registration that
// follows the hello goes out: a client that quits (or is killed) right after its welcome still
// has it at its next start, rather than trusting whatever key answers then. It is written to a
// temporary file that then takes the file's place, so a crash mid-write leaves the old pins
// whole rather than a torn file read as "no pins".
//
// A file that cannot be read, or is not a JSON object of keys (edited by hand, a disk fault),
// stops the client at start rather than counting as no pins: trusting whatever key answers
// next, and then writing over every other server's pin, is what pinning exists to prevent.
import * as z from 'zod/mini';
import { readIfThereSync, replaceFileSync } from '../util/files.js';

const PinFile = z.record(z.string(), z.string());

export class ServerPins {
  constructor(
    readonly path: string,
    readonly server: string,
  ) {}

  get(): string | undefined {
    return this.#read()[this.server];
  }

  /** Pins `key` for this server; on disk when it returns (fsynced: a power cut keeps it). */
  set(key: string): void {
    const pins = this.#read();
    pins[this.server] = key;
    replaceFileSync(this.path, `${JSON.stringify(pins, null, 2)}\n`, {
      mode: 0o600,
      durable: true,
    });
  }

  /** The pins on disk; none when there is no file yet; throws on a file it cannot trust. */
  #read(): Record<string, string> {
    let text: string | undefined;
    try {
      text = readIfThereSync(this.path);
    } catch (error) {
      throw new Error(
        `cannot read the pinned server keys in ${this.path}: ${(error as Error).message}`,
      );
    }
    if (text === undefined) return {};
    let pins: unknown;
    try {
      pins = JSON.parse(text);
    } catch {
      pins = undefined;
    }
    const checked = PinFile.safeParse(pins);
    if (!checked.success)
      throw new Error(
        `${this.path} is not a file of pinned server keys: fix it, or remove it to trust the key each server answers with next`,
      );
    return checked.data;
  }
}
