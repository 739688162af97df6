import t from 'tap';
import { NAT_PROBE_PAD, probeNat } from '../../src/client/nat-probe.js';
import { REGISTRY_NAME } from '../../src/crypto/signing.js';
import { UdpchatError } from '../../src/protocol/errors.js';
import type { Reply, RequestBody } from '../../src/protocol/messages.js';
import type { Address } from '../../src/transport/address.js';

/** A channel whose one request is answered with `reply` (or rejected with it), recording what was asked. */
function channel(reply: Reply | Error) {
  const asked: Array<{ to: Address; body: RequestBody; options: unknown }> = [];
  return {
    asked,
    request: (to: Address, body: RequestBody, options: unknown) => {
      asked.push({ to, body, options });
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
  };
}

const probe = { address: '198.51.100.1', port: 12346 };
const seen = { ip: '203.0.113.9', port: 5000 };
const answer = (ip: string, port: number) => ({ v: 1, t: 'nat_seen', re: 'p1', ip, port }) as Reply;

t.test('the same address from the probe port: the NAT maps consistently', async (t) => {
  const fake = channel(answer('203.0.113.9', 5000));
  t.equal(await probeNat(fake as never, 'alice', probe, seen), 'consistent');
  const [{ to, body, options }] = fake.asked;
  t.same(to, probe);
  t.same(body, { t: 'nat_probe', from: 'alice', pad: '.'.repeat(NAT_PROBE_PAD) });
  t.match(options, { signer: REGISTRY_NAME }, 'only the registry may answer');
});

t.test('an IPv4 address seen as IPv4-mapped IPv6 is the same address', async (t) => {
  const fake = channel(answer('::ffff:203.0.113.9', 5000));
  t.equal(await probeNat(fake as never, 'alice', probe, seen), 'consistent');
});

t.test('another port or address: the NAT maps each destination apart', async (t) => {
  t.equal(
    await probeNat(channel(answer('203.0.113.9', 5001)) as never, 'alice', probe, seen),
    'symmetric',
  );
  t.equal(
    await probeNat(channel(answer('203.0.113.10', 5000)) as never, 'alice', probe, seen),
    'symmetric',
  );
});

t.test('an answer of another kind says nothing; silence rejects', async (t) => {
  t.equal(
    await probeNat(channel({ v: 1, t: 'ack', re: 'p1' }) as never, 'alice', probe, seen),
    undefined,
  );
  const silence = new UdpchatError('ERR_TIMEOUT', 'no answer');
  await t.rejects(probeNat(channel(silence) as never, 'alice', probe, seen), silence);
});
