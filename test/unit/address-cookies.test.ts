import t from 'tap';
import { AddressCookies } from '../../src/registry/address-cookies.js';
import type { Address } from '../../src/transport/address.js';

const MINUTE = 60_000;
const alice: Address = { address: '192.0.2.7', port: 4000 };

/** Cookies on a clock the test moves; `now` starts a few seconds into a minute. */
function setup() {
  let now = 1_000 * MINUTE + 5_000;
  const cookies = new AddressCookies(() => now);
  return { cookies, advance: (ms: number) => void (now += ms) };
}

t.test(
  'a cookie is good for the address it was made for, in its minute and the next',
  async (t) => {
    const { cookies, advance } = setup();
    const cookie = cookies.make(alice);
    t.ok(cookies.check(alice, cookie), 'at once');
    advance(MINUTE - 10_000);
    t.ok(cookies.check(alice, cookie), 'later that minute');
    advance(MINUTE);
    t.ok(cookies.check(alice, cookie), 'in the next minute');
    advance(MINUTE);
    t.notOk(cookies.check(alice, cookie), 'not two minutes on');
  },
);

t.test('refused for another address, another port, or by another registry', async (t) => {
  const { cookies } = setup();
  const cookie = cookies.make(alice);
  t.notOk(cookies.check({ ...alice, port: 4001 }, cookie), 'another port');
  t.notOk(cookies.check({ ...alice, address: '192.0.2.8' }, cookie), 'another host');
  t.notOk(new AddressCookies(() => 1_000 * MINUTE).check(alice, cookie), 'another secret');
});

t.test('a cookie forged or changed is refused', async (t) => {
  const { cookies, advance } = setup();
  const cookie = cookies.make(alice);
  const [bucket, mac] = cookie.split('.') as [string, string];
  const flipped = mac.startsWith('A') ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
  for (const [what, forged] of [
    ['no cookie', undefined],
    ['empty', ''],
    ['no MAC', `${bucket}.`],
    ['no minute', `.${mac}`],
    ['a MAC changed', `${bucket}.${flipped}`],
    ['a MAC cut short', `${bucket}.${mac.slice(0, -1)}`],
    ['a part too many', `${cookie}.x`],
    ['a minute not a number', `zz!.${mac}`],
    ['a minute to come', `${(parseInt(bucket, 36) + 1).toString(36)}.${mac}`],
  ] as const)
    t.notOk(cookies.check(alice, forged), what);
  // One made for a minute to come is refused even with its own MAC: the clock is moved back.
  advance(MINUTE);
  const ahead = cookies.make(alice);
  advance(-MINUTE);
  t.notOk(cookies.check(alice, ahead), 'made in a minute that has not come');
});
