// The registry keys a client has met, per server address (trust on first use, as ssh does with
// known_hosts): one JSON object in the nick's data directory.
import { readFile, writeFile } from 'node:fs/promises';

export class ServerPins {
  constructor(
    readonly path: string,
    readonly server: string,
  ) {}

  async get(): Promise<string | undefined> {
    return (await this.#read())[this.server];
  }

  async set(key: string): Promise<void> {
    const pins = await this.#read();
    pins[this.server] = key;
    await writeFile(this.path, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600 });
  }

  async #read(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }
}
