import t from 'tap';
import { PasswordGate } from '../../src/registry/password-gate.js';

/** A job the test finishes by hand. */
function held() {
  let finish: () => void = () => undefined;
  const done = new Promise<string>((resolve) => (finish = () => resolve('hashed')));
  return { job: () => done, finish };
}

t.test('at most `concurrent` jobs at once; the rest refused at once, not queued', async (t) => {
  const gate = new PasswordGate({ concurrent: 2, perAddressPerMinute: 100 });
  const [a, b, c] = [held(), held(), held()];
  const first = gate.run('10.0.0.1', a.job);
  const second = gate.run('10.0.0.2', b.job);
  t.same(await gate.run('10.0.0.3', c.job), { refused: 'busy' }, 'a third while two run');
  a.finish();
  t.same(await first, { done: 'hashed' });
  const third = gate.run('10.0.0.3', c.job);
  c.finish();
  b.finish();
  t.same(
    await Promise.all([second, third]),
    [{ done: 'hashed' }, { done: 'hashed' }],
    'room again once one ended',
  );
  t.equal(gate.peak, 2);
  t.equal(gate.refused, 1);
});

t.test('one address gets its share a minute, others theirs', async (t) => {
  const gate = new PasswordGate({ concurrent: 10, perAddressPerMinute: 2 });
  const quick = () => Promise.resolve(true);
  t.same(await gate.run('10.0.0.1', quick), { done: true });
  t.same(await gate.run('10.0.0.1', quick), { done: true });
  t.same(await gate.run('10.0.0.1', quick), { refused: 'limited' });
  t.same(await gate.run('10.0.0.2', quick), { done: true }, 'another address is not held up');
});
