import t from 'tap';
import { NewNickAdmission, newNickRefusal } from '../../src/registry/admission.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

const from = (address: string, port = 5000) => ({ address, port });

t.test('one address gets perAddress new nicks a window, whatever its ports; others theirs', async (t) => {
  const time = clock();
  const admission = new NewNickAdmission({ perAddress: 3, overall: 1000, windowMs: 60_000 }, time);
  t.equal(admission.admit(from('10.0.0.1', 1)), undefined);
  t.equal(admission.admit(from('10.0.0.1', 2)), undefined);
  t.equal(admission.admit(from('10.0.0.1', 3)), undefined);
  t.equal(admission.admit(from('10.0.0.1', 4)), 'address', 'a fourth, from another port');
  t.equal(admission.admit(from('10.0.0.2')), undefined, 'another address is not held up');
  t.equal(admission.refused, 1);
  time.advance(59_999);
  t.equal(admission.admit(from('10.0.0.1')), 'address', 'still within the window');
  time.advance(1);
  t.equal(admission.admit(from('10.0.0.1')), undefined, 'a new window once it ended');
  t.equal(admission.refused, 2);
});

t.test('everyone: at most a tenth of `overall` in a tenth of the window, and `overall` in the window', async (t) => {
  const time = clock();
  const admission = new NewNickAdmission({ perAddress: 100, overall: 20, windowMs: 10_000 }, time);
  let address = 0;
  const next = () => admission.admit(from(`10.0.1.${++address}`));
  t.equal(next(), undefined);
  t.equal(next(), undefined);
  t.equal(next(), 'overall', 'a third within the first second (burst of 2)');
  for (let second = 1; second < 10; second++) {
    time.advance(1_000);
    t.equal(next(), undefined, `second ${second}`);
    t.equal(next(), undefined, `second ${second}, the burst's second`);
  }
  // 20 admitted within the 10 s window (its tenth-long burst windows opened at 0, 1, … 9 s):
  // the overall budget is spent although a new burst window has room.
  time.advance(999);
  t.equal(next(), 'overall', 'the overall budget spent');
  time.advance(1);
  t.equal(next(), undefined, 'a new overall window at 10 s');
  t.equal(admission.refused, 2);
});

t.test('a nick refused by its address spends nothing of the budget everyone shares', async (t) => {
  const time = clock();
  const admission = new NewNickAdmission({ perAddress: 1, overall: 10, windowMs: 10_000 }, time);
  t.equal(admission.admit(from('10.0.0.1')), undefined);
  for (let i = 0; i < 5; i++) t.equal(admission.admit(from('10.0.0.1')), 'address');
  t.equal(admission.admit(from('10.0.0.2')), 'overall', 'the burst (1 a second) was spent by the one admitted, not by the refused');
  time.advance(1_000);
  t.equal(admission.admit(from('10.0.0.3')), undefined);
  t.equal(admission.refused, 6);
});

t.test('refusals spend: hammering past the budget does not wait out the window sooner', async (t) => {
  const time = clock();
  const admission = new NewNickAdmission({ perAddress: 2, overall: 1000, windowMs: 2_000 }, time);
  admission.admit(from('10.0.0.1'));
  admission.admit(from('10.0.0.1'));
  time.advance(1_000);
  t.equal(admission.admit(from('10.0.0.1')), 'address');
  time.advance(999);
  t.equal(admission.admit(from('10.0.0.1')), 'address', 'the window runs from its first use');
  time.advance(1);
  t.equal(admission.admit(from('10.0.0.1')), undefined);
});

t.test('windows are whole seconds, at least one; the burst window a tenth of it, at least one', async (t) => {
  const time = clock();
  // 400 ms is rounded to one second; the burst budget (ceil(3/10) = 1) also lasts one second.
  const admission = new NewNickAdmission({ perAddress: 5, overall: 3, windowMs: 400 }, time);
  t.equal(admission.admit(from('10.0.0.1')), undefined);
  time.advance(500);
  t.equal(admission.admit(from('10.0.0.2')), 'overall', 'within the burst second');
  time.advance(500);
  t.equal(admission.admit(from('10.0.0.3')), undefined, 'one second on');
  time.advance(1_000);
  // 1.6 s rounds to 2 s: the second use a second and a half after the first is still in its window.
  const rounded = new NewNickAdmission({ perAddress: 1, overall: 1000, windowMs: 1_600 }, time);
  t.equal(rounded.admit(from('10.0.0.9')), undefined);
  time.advance(1_500);
  t.equal(rounded.admit(from('10.0.0.9')), 'address');
  time.advance(500);
  t.equal(rounded.admit(from('10.0.0.9')), undefined);
});

t.test('addresses whose window ended are forgotten', async (t) => {
  const time = clock();
  const admission = new NewNickAdmission({ perAddress: 1, overall: 100_000, windowMs: 60_000 }, time);
  for (let i = 0; i < 50; i++) admission.admit(from(`10.0.2.${i}`));
  t.equal(admission.addressesTracked, 50);
  time.advance(60_000);
  admission.admit(from('10.0.3.1'));
  t.equal(admission.addressesTracked, 1, 'only the one heard from in this window');
});

t.test('the refusal texts the registry answers with', async (t) => {
  t.equal(newNickRefusal('address'), 'too many new nicks from this address: wait a minute');
  t.equal(newNickRefusal('overall'), 'the registry takes few new nicks at the moment: try again in a minute');
});
