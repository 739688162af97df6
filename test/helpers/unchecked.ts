// Requests the registry answers unchecked (see src/registry/request-keys.ts), as anyone can make
// them: for the tests of their budgets.
import { randomBytes } from 'node:crypto';
import { generateRawKeyPair, privateKeyObject } from '../../src/crypto/key-pairs.js';
import { signDatagram } from '../../src/crypto/signing.js';
import { encodeRequest } from '../../src/protocol/codec.js';
import { HELLO_PAD_CHARS } from '../../src/protocol/constants.js';

/**
 * `count` hellos (or heartbeats) for fresh nicks (`prefix` and a number), each under a fresh
 * request id, signed right by one key they bring.
 */
export function uncheckedRequests(
  count: number,
  prefix: string,
  type: 'hello' | 'heartbeat' = 'hello',
): Buffer[] {
  const signing = generateRawKeyPair('ed25519');
  const key = privateKeyObject('ed25519', signing);
  const sk = signing.publicRaw.toString('base64');
  return Array.from({ length: count }, (_, i) => {
    const nick = `${prefix}${i}`;
    const body =
      type === 'hello'
        ? ({ t: 'hello', nick, sk, pad: '.'.repeat(HELLO_PAD_CHARS) } as const)
        : ({ t: 'heartbeat', nick, sk } as const);
    return signDatagram(encodeRequest(randomBytes(6).toString('hex'), body), nick, key);
  });
}
