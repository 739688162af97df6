import t from 'tap';
import { pathSockets } from '../../src/client/path-sockets.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';
import type { RequestOptions } from '../../src/transport/endpoint.js';

/** An endpoint that records what it is asked; `control.ports` say how each socket opening ends (a port, or a failure). */
function endpoint() {
  const asked: Array<{ to: Address; body: RequestBody; options: RequestOptions }> = [];
  const calls: string[] = [];
  const control = { ports: [] as Array<number | Error> };
  const fake = {
    request: (to: Address, body: RequestBody, options: RequestOptions) => {
      asked.push({ to, body, options });
      return Promise.resolve({ v: 1, t: 'ack', re: 'x' } as never);
    },
    openSocket: () => {
      const next = control.ports.shift();
      return next instanceof Error || next === undefined
        ? Promise.reject(next ?? new Error('no port'))
        : Promise.resolve(next);
    },
    closeSocket: (via: number) => void calls.push(`close ${via}`),
    route: (to: Address, via: number | undefined) =>
      void calls.push(`route ${to.address}:${to.port} via ${via}`),
  };
  return { fake, asked, calls, control };
}

const peerAt = { address: '198.51.100.7', port: 5000 };

t.test(
  'a punch is signed as this client, names the peer, and only the peer may answer it',
  async (t) => {
    const { fake, asked } = endpoint();
    const sockets = pathSockets(fake, 'alice');
    const controller = new AbortController();
    await sockets.punch('bob', peerAt, { timeoutMs: 300, tries: 3 }, controller.signal, 41000);
    t.equal(asked.length, 1);
    t.same(asked[0].to, peerAt);
    t.same(asked[0].body, { t: 'punch', from: 'alice', to: 'bob' });
    t.match(asked[0].options, { timeoutMs: 300, tries: 3, signer: 'bob', via: 41000 });
    t.equal(asked[0].options.signal, controller.signal, 'the round can stop it');
    await sockets.punch('bob', peerAt, { timeoutMs: 300, tries: 3 });
    t.equal(asked[1].options.via, undefined, 'from the main socket unless told');
  },
);

t.test('a birthday round gets the sockets that opened, and only those', async (t) => {
  const { fake, control } = endpoint();
  const sockets = pathSockets(fake, 'alice');
  control.ports = [41001, new Error('EADDRINUSE'), 41003];
  t.same(await sockets.openSockets(3), [41001, 41003]);
  t.same(await sockets.openSockets(2), [], 'none left: none');
});

t.test('closing a socket and routing a peer go to the endpoint as they are', async (t) => {
  const { fake, calls } = endpoint();
  const sockets = pathSockets(fake, 'alice');
  sockets.closeSocket(41001);
  sockets.route(peerAt, 41003);
  sockets.route(peerAt, undefined);
  t.same(calls, [
    'close 41001',
    'route 198.51.100.7:5000 via 41003',
    'route 198.51.100.7:5000 via undefined',
  ]);
});
