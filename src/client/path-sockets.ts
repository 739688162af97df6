// What hole punching does through the transport: a punch (a request only the peer may answer,
// from the main socket or a birthday round's), spare sockets opened and closed, and the socket
// a peer's datagrams leave from. The Paths module asks for these; the Endpoint does them.
import type { Endpoint } from '../transport/endpoint.js';
import type { PathContext } from './paths.js';

/** The part of Paths' context that is the transport's. */
export type PathSockets = Required<
  Pick<PathContext, 'punch' | 'openSockets' | 'closeSocket' | 'route'>
>;

/** Punches signed as `nick`, and the sockets of `endpoint`, for Paths. */
export function pathSockets(
  endpoint: Pick<Endpoint, 'request' | 'openSocket' | 'closeSocket' | 'route'>,
  nick: string,
): PathSockets {
  return {
    punch: async (peer, to, tries, signal, via) => {
      await endpoint.request(
        to,
        { t: 'punch', from: nick, to: peer },
        { ...tries, signer: peer, signal, via },
      );
    },
    // A birthday round takes the sockets it could open: one that failed (no port left) is left out.
    openSockets: async (count) => {
      const opened = await Promise.allSettled(
        Array.from({ length: count }, () => endpoint.openSocket()),
      );
      return opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    },
    closeSocket: (via) => endpoint.closeSocket(via),
    route: (to, via) => endpoint.route(to, via),
  };
}
