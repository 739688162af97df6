import { messageAad, seal, Sessions, type Sealed } from '../../src/crypto/sealing.js';
import type { Test } from 'tap';
import { generateIdentity, signingKeyFrom } from '../../src/crypto/identity.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import type { MessageOf, RequestBody } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';
import { Endpoint, type RequestOptions } from '../../src/transport/endpoint.js';
import type { ChatClient } from '../../src/client/client.js';
import type { Registry } from '../../src/registry/registry.js';
import { createProxy, peek } from './proxy.js';
import { cookieFor, eventually, type Testnet } from './testnet.js';

/**
 * A client the test drives by hand: it signs as `nick` (with the testnet's identity for
 * that nick) and checks signatures as a real client does, but sends exactly what the test
 * says, so retransmissions, orderings and crafted requests can be made on purpose.
 */
export async function scriptedPeer(t: Test, net: Testnet, nick: string) {
  const identity = await net.identityOf(nick);
  const keys = new Map<string, { sk: string; ek: string }>();
  const sessions = new Sessions(identity.agreement);
  const endpoint = new Endpoint({
    auth: {
      name: nick,
      privateKey: identity.signing.privateKey,
      keyFor: (by) => {
        const raw = by === REGISTRY_NAME ? net.registry.publicKeys.sk : keys.get(by)?.sk;
        return raw === undefined ? undefined : signingKeyFrom(raw);
      },
      // As a real client: a peer's chats under the key of a session it opened a message of.
      macKeyFor: (by, sid) => {
        const ek = keys.get(by)?.ek;
        return ek === undefined ? undefined : sessions.incomingMac(sid, ek);
      },
    },
  });
  await endpoint.listen(0, '127.0.0.1');
  t.teardown(() => endpoint.close());
  const options: RequestOptions = { timeoutMs: 80, tries: 5 };
  const request = (to: Address, body: RequestBody, extra: Partial<RequestOptions> = {}) =>
    endpoint.request(to, body, { ...options, ...extra });
  return {
    endpoint,
    identity,
    request,
    /** Lets this peer check signatures of `other` (a nick of the testnet). */
    async know(other: string) {
      keys.set(other, (await net.identityOf(other)).public);
    },
    /** Opens a chat from a peer it knows (as a real client does before it answers). */
    async open(chat: MessageOf<'chat'>): Promise<string> {
      const ek = keys.get(chat.from)?.ek;
      if (ek === undefined) throw new Error(`${nick} does not know ${chat.from}`);
      return new TextDecoder().decode(
        await sessions.open(chat.sealed, messageAad(chat.from, nick, chat.mid), ek),
      );
    },
    async register() {
      const cookie = await cookieFor(endpoint, net.registry.address(), nick, identity.public.sk);
      return request(
        net.registry.address(),
        { t: 'register', nick, ...identity.public, cookie },
        { signer: REGISTRY_NAME },
      );
    },
    /** Registers, knowing `client`'s keys, and settles once `client`'s table has this peer. */
    async meet(client: ChatClient) {
      keys.set(client.nick, (await net.identityOf(client.nick)).public);
      await this.register();
      await eventually(
        () => client.table().some((e) => e.nick === nick),
        2000,
        `${client.nick} knows ${nick}`,
      );
    },
  };
}

/** `text` sealed by `from` to `to` (testnet nicks), as a real client seals it. */
export async function sealAs(
  net: Testnet,
  from: string,
  to: string,
  mid: string,
  text: string,
): Promise<Sealed> {
  const [sender, recipient] = await Promise.all([net.identityOf(from), net.identityOf(to)]);
  return seal(
    new TextEncoder().encode(text),
    recipient.public.ek,
    messageAad(from, to, mid),
    sender.agreement,
  );
}

/**
 * `nick`: a bare endpoint signing every request (as a client does before its registry answers
 * under a session), reaching `registry` through a proxy that keeps what it sends. It answers
 * the registry's probes and pushes, so only a dereg takes it offline.
 */
export async function capturedSigningPeer(t: Test, nick: string, registry: Registry) {
  const captured: Buffer[] = [];
  const proxy = await createProxy(registry.address(), {
    fault(datagram, direction) {
      if (direction === 'forward') captured.push(Buffer.from(datagram));
      return 'pass';
    },
  });
  t.teardown(() => proxy.close());
  const identity = await generateIdentity();
  const endpoint = new Endpoint({
    auth: {
      name: nick,
      privateKey: identity.signing.privateKey,
      keyFor: (by) => (by === REGISTRY_NAME ? signingKeyFrom(registry.publicKeys.sk) : undefined),
    },
  });
  endpoint.onRequest((_request, _from, respond) => respond({ t: 'ack' }));
  await endpoint.listen(0, '127.0.0.1');
  t.teardown(() => endpoint.close());
  const request = (body: RequestBody) =>
    endpoint.request(proxy.address, body, { timeoutMs: 500, tries: 5, signer: REGISTRY_NAME });
  return {
    async register() {
      const cookie = await cookieFor(endpoint, proxy.address, nick, identity.public.sk);
      t.match(await request({ t: 'register', nick, ...identity.public, cookie }), {
        t: 'registered',
      });
    },
    async deregister() {
      t.match(await request({ t: 'deregister', nick }), { t: 'ack' });
    },
    /** Its dereg as it left it (a signed request is sent again as it is: one datagram). */
    capturedDereg(): Buffer {
      const dereg = captured.filter((datagram) => peek(datagram)?.t === 'deregister');
      t.ok(dereg.length >= 1, `${nick}'s dereg was captured`);
      t.ok(
        dereg.every((datagram) => datagram.equals(dereg[0])),
        'a signed request is sent again as it is',
      );
      return dereg[0];
    },
    /** Sends `datagram` to `to` from its address, as someone on its path could. */
    replay(datagram: Buffer, to: Registry) {
      proxy.sendAs(endpoint.address(), datagram, to.address());
    },
    /** Whether `registry`'s table has it online. */
    onlineAt(registry: Registry): boolean {
      return registry.snapshot().entries.some((entry) => entry.nick === nick && entry.online);
    },
  };
}
