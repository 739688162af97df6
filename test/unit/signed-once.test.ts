import t from 'tap';
import pino from 'pino';
import { SignedOnce } from '../../src/registry/signed-once.js';
import { SIGNED_HELD_SECONDS } from '../../src/transport/datagram-auth.js';
import type { Store } from '../../src/store/store.js';

/** A SignedOnce over a store whose `claim` answers as `answer` says, and what it was asked. */
function over(answer?: (key: string) => Promise<boolean>) {
  const asked: Array<[string, number]> = [];
  const warnings: string[] = [];
  const store: Pick<Store, 'claim'> = answer
    ? {
        claim: (key, seconds) => {
          asked.push([key, seconds]);
          return answer(key);
        },
      }
    : {};
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) },
  );
  return { once: new SignedOnce({ store, log }), asked, warnings };
}

t.test(
  'a signed request is taken when the store takes its key, held past its freshness',
  async (t) => {
    const taken = new Set<string>();
    const { once, asked } = over(async (key) => !taken.has(key) && Boolean(taken.add(key)));
    t.equal(await once.first('alice|sig-1'), true);
    t.equal(await once.first('alice|sig-1'), false, 'one the store holds is taken before');
    t.equal(await once.first('alice|sig-2'), true);
    t.equal(once.signedTakenBefore, 1);
    t.same(asked[0], ['alice|sig-1', 121], 'held 121 s: fresh up to 60 s either side of now');
    t.equal(SIGNED_HELD_SECONDS, 121);
  },
);

t.test('a store without claims leaves it to the replay cache: every one is taken', async (t) => {
  const { once } = over();
  t.equal(await once.first('alice|sig-1'), true);
  t.equal(await once.first('alice|sig-1'), true);
  t.equal(once.signedTakenBefore, 0);
});

t.test('a store that fails to answer: taken, and said in the log', async (t) => {
  const { once, warnings } = over(() => Promise.reject(new Error('connection lost')));
  t.equal(await once.first('alice|sig-1'), true);
  t.equal(once.signedTakenBefore, 0);
  t.same(warnings, ['a signed request could not be recorded in the store']);
});
