// The registry's client table in memory: records by nick, and an index by address so that
// "who else is here" at each registration costs the nicks at that address, not the table's size.
import { normalizeIp, type Address } from '../transport/address.js';
import type { ClientRecord } from '../store/store.js';

const keyOf = (ip: string, port: number) => `${normalizeIp(ip)}|${port}`;

/** The address a client record was registered from. */
export const addressOf = (record: ClientRecord): Address => ({
  address: record.ip,
  port: record.port,
});

/**
 * The registry's client table: records by nick, as a Map, and an index of them by address,
 * so that "who else is at this address" (asked at every registration) costs the number of
 * nicks at that address, not the size of the table.
 *
 * A record's address never changes in place (a registration from elsewhere makes a new
 * record), so the index follows `set` and `delete` alone; whether a record is online does
 * change in place, so `at` returns every record at the address and the caller asks.
 */
export class ClientTable {
  readonly #byNick = new Map<string, ClientRecord>();
  /** One record where one nick is at an address (nearly always), an array where several are. */
  readonly #byAddress = new Map<string, ClientRecord | ClientRecord[]>();

  get size(): number {
    return this.#byNick.size;
  }

  get(nick: string): ClientRecord | undefined {
    return this.#byNick.get(nick);
  }

  has(nick: string): boolean {
    return this.#byNick.has(nick);
  }

  values(): IterableIterator<ClientRecord> {
    return this.#byNick.values();
  }

  /** Puts `record` under `nick`, in place of the record the nick had (and of its address). */
  set(nick: string, record: ClientRecord): this {
    this.#unindex(this.#byNick.get(nick));
    this.#byNick.set(nick, record);
    const key = keyOf(record.ip, record.port);
    const here = this.#byAddress.get(key);
    if (here === undefined) this.#byAddress.set(key, record);
    else if (Array.isArray(here)) {
      if (!here.includes(record)) here.push(record);
    } else if (here !== record) this.#byAddress.set(key, [here, record]);
    return this;
  }

  delete(nick: string): boolean {
    const record = this.#byNick.get(nick);
    if (!record) return false;
    this.#unindex(record);
    return this.#byNick.delete(nick);
  }

  /** The records at `address` (online or not), a copy: the caller may change the table meanwhile. */
  at(address: Address): ClientRecord[] {
    const here = this.#byAddress.get(keyOf(address.address, address.port));
    return here === undefined ? [] : Array.isArray(here) ? [...here] : [here];
  }

  #unindex(record: ClientRecord | undefined): void {
    if (!record) return;
    const key = keyOf(record.ip, record.port);
    const here = this.#byAddress.get(key);
    if (here === record) this.#byAddress.delete(key);
    else if (Array.isArray(here)) {
      const rest = here.filter((other) => other !== record);
      if (rest.length === 1) this.#byAddress.set(key, rest[0]);
      else this.#byAddress.set(key, rest);
    }
  }
}
