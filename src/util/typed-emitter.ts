// An EventEmitter whose event names and payloads are checked by the compiler. Each event
// carries one payload object, so the CLI can render it as a line or as one JSON object.
import { EventEmitter } from 'node:events';

export class TypedEmitter<Events extends { [K in keyof Events]: object }> {
  readonly #emitter = new EventEmitter();

  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): this {
    this.#emitter.on(event, listener);
    return this;
  }

  off<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): this {
    this.#emitter.off(event, listener);
    return this;
  }

  once<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): this {
    this.#emitter.once(event, listener);
    return this;
  }

  /** Every event, in order, as `[name, payload]`: what `--json` prints. */
  onAny(listener: (event: keyof Events & string, payload: object) => void): this {
    this.#anyListeners.push(listener);
    return this;
  }

  readonly #anyListeners: Array<(event: keyof Events & string, payload: object) => void> = [];

  protected emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    for (const listener of this.#anyListeners) listener(event, payload);
    this.#emitter.emit(event, payload);
  }
}
