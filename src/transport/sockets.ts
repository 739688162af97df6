// The UDP sockets of one endpoint: its main socket, the others opened beside it (hole punching, a
// registry's probe port), which socket a datagram to each remote address leaves from, and the
// bundles (several datagrams in one) that come in and, when asked, leave. Knows bytes and ports
// only; what the datagrams mean is the endpoint's.
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { UdpchatError } from '../protocol/errors.js';
import { formatAddress, lookupLiteral, type Address } from './address.js';
import { Coalescer, isBundle, unbundle, type SendKind } from './bundle.js';

/** A datagram that came in, and the port of the other socket it came in on (undefined: the main one). */
export type DatagramHandler = (datagram: Buffer, rinfo: dgram.RemoteInfo, via?: number) => void;

/** What the sockets count of bundles (transport/bundle.ts), in the endpoint's stats. */
export interface BundleCounters {
  /** Bundles sent (`coalesce`), and the datagrams they carried. */
  bundlesSent: number;
  bundled: number;
  /** Bundles received (each datagram in one is counted as received too), and malformed ones dropped whole. */
  bundlesReceived: number;
  bundlesRefused: number;
}

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function createSocket(type: 'udp4' | 'udp6'): dgram.Socket {
  return dgram.createSocket({ type, reuseAddr: false, lookup: lookupLiteral });
}

/** Binds `socket` to `port` on `host`; a port in use is reported as ERR_PORT_IN_USE. */
function bind(socket: dgram.Socket, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new UdpchatError('ERR_PORT_IN_USE', `port ${port} is already in use`, { cause: error })
          : error,
      );
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/**
 * The main socket and the others beside it, with the routes that send what goes to an address
 * from another one. Every datagram received goes to `onDatagram`, each of a bundle's on its own
 * (a malformed bundle is dropped whole); every send's failure to `afterSend` (one callback for
 * all, not a closure each). With `coalesce`, what leaves the main socket goes through a
 * `Coalescer`: several datagrams to one address in one turn leave as a bundle.
 */
export class Sockets {
  readonly #type: 'udp4' | 'udp6';
  readonly #main: dgram.Socket;
  /** Other sockets, by their port. */
  readonly #others = new Map<number, dgram.Socket>();
  /** Remote addresses (formatted) sends to which leave from another socket, by its port. */
  readonly #routes = new Map<string, number>();
  readonly #onDatagram: DatagramHandler;
  readonly #afterSend: (error: Error | null) => void;
  readonly #counters: BundleCounters;
  readonly #coalescer: Coalescer | undefined;
  readonly #log: Logger;
  #phase: 'unbound' | 'bound' | 'closed' = 'unbound';

  constructor(
    type: 'udp4' | 'udp6',
    handlers: {
      onDatagram: DatagramHandler;
      afterSend: (error: Error | null) => void;
      /** Where bundles are counted (the endpoint's stats). */
      counters: BundleCounters;
    },
    log: Logger,
    coalesce = false,
  ) {
    this.#type = type;
    this.#onDatagram = handlers.onDatagram;
    this.#afterSend = handlers.afterSend;
    this.#counters = handlers.counters;
    this.#log = log;
    this.#main = createSocket(type);
    this.#coalescer = coalesce
      ? new Coalescer({
          send: (to, datagram) => this.#sendNow(this.#main, to, datagram),
          defer: (flush) => void setImmediate(flush),
          counters: this.#counters,
        })
      : undefined;
    this.#main.on('message', (datagram, rinfo) => this.#receive(datagram, rinfo));
    this.#main.on('error', (error) => {
      // A bind failure is the caller's to report (listen rejects); later errors are logged.
      if (this.#phase === 'bound') this.#log.warn({ err: error }, 'socket error');
    });
  }

  /** Binds the main socket. */
  async listen(port: number, host?: string): Promise<Address> {
    await bind(this.#main, port, host);
    this.#phase = 'bound';
    // Bursts (a table push to many, a flood) overflow the default buffer; the kernel caps the ask.
    try {
      this.#main.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (error) {
      this.#log.debug({ err: error }, 'could not enlarge the receive buffer');
    }
    return this.address();
  }

  /** The main socket's address. */
  address(): Address {
    const { address, port } = this.#main.address();
    return { address, port };
  }

  /**
   * Opens another socket, bound to `port` (0: any) on the main one's address unless `host` is
   * given; what it receives goes to `onDatagram` with its port. Resolves with its port.
   */
  async open(port = 0, host?: string): Promise<number> {
    if (this.#isClosed()) throw new UdpchatError('ERR_CLOSED', 'endpoint closed');
    const socket = createSocket(this.#type);
    try {
      await bind(socket, port, host ?? this.#main.address().address);
    } catch (error) {
      socket.close();
      throw error;
    }
    const bound = socket.address().port;
    if (this.#isClosed()) {
      socket.close();
      throw new UdpchatError('ERR_CLOSED', 'endpoint closed');
    }
    socket.on('error', (error) => this.#log.debug({ err: error }, 'socket error'));
    socket.on('message', (datagram, rinfo) => this.#receive(datagram, rinfo, bound));
    this.#others.set(bound, socket);
    return bound;
  }

  /** Closes a socket `open` opened, and forgets the routes through it. */
  close(port: number): void {
    const socket = this.#others.get(port);
    if (!socket) return;
    this.#others.delete(port);
    for (const [to, via] of this.#routes) if (via === port) this.#routes.delete(to);
    socket.close();
  }

  /** From now on, what goes to `to` leaves from the socket at `via` (undefined: the main one again). */
  route(to: Address, via: number | undefined): void {
    if (via === undefined || !this.#others.has(via)) this.#routes.delete(formatAddress(to));
    else this.#routes.set(formatAddress(to), via);
  }

  /** Sockets open beside the main one. */
  get others(): number {
    return this.#others.size;
  }

  /** Sends from the socket at `via`, else the one `to`'s route names, else the main one. */
  send(to: Address, datagram: Buffer, via?: number, kind: SendKind = 'first'): void {
    const port = via ?? (this.#routes.size > 0 ? this.#routes.get(formatAddress(to)) : undefined);
    this.sendFrom(to, datagram, port, kind);
  }

  /**
   * Sends from the socket at `via` (undefined: the main one), whatever the routes say: the
   * arguments of `send`, `via` strict. A datagram sent `again` never goes in a bundle.
   */
  sendFrom(to: Address, datagram: Buffer, via: number | undefined, kind: SendKind = 'first'): void {
    const socket = this.#socketAt(via);
    if (socket === this.#main && this.#coalescer && kind === 'first')
      this.#coalescer.send(to, datagram);
    else this.#sendNow(socket, to, datagram);
  }

  /** Closes every socket; resolves once the main one is closed. Idempotent. */
  closeAll(): Promise<void> {
    if (this.#isClosed()) return Promise.resolve();
    this.#coalescer?.flush(); // what waits for the turn's end leaves before the socket closes
    this.#phase = 'closed';
    for (const port of [...this.#others.keys()]) this.close(port);
    return new Promise((resolve) => this.#main.close(() => resolve()));
  }

  #sendNow(socket: dgram.Socket, to: Address, datagram: Buffer): void {
    if (this.#isClosed()) return;
    socket.send(datagram, to.port, to.address, this.#afterSend);
  }

  /** A datagram in: given on as it is, or a bundle's each on its own. */
  #receive(datagram: Buffer, rinfo: dgram.RemoteInfo, via?: number): void {
    if (!isBundle(datagram)) return this.#onDatagram(datagram, rinfo, via);
    const datagrams = unbundle(datagram);
    if (datagrams === undefined) {
      this.#counters.bundlesRefused++;
      this.#log.debug({ from: formatAddress(rinfo) }, 'malformed bundle dropped');
      return;
    }
    this.#counters.bundlesReceived++;
    for (const one of datagrams) this.#onDatagram(one, rinfo, via);
  }

  /** Read afresh after an await (closing may have come meanwhile). */
  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  #socketAt(port: number | undefined): dgram.Socket {
    return (port !== undefined ? this.#others.get(port) : undefined) ?? this.#main;
  }
}
