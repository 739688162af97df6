import t from 'tap';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { HelloAdmission, NewNickAdmission, newNickRefusal } from '../../src/registry/admission.js';
import type { MakeBudget } from '../../src/registry/budgets.js';

// Every budget here is of a window (a minute, or ten seconds) far longer than a test runs: what
// is asserted is what happens within one window, never how long it lasts (rate-limiter-flexible's
// own business).
const from = (address: string, port = 5000) => ({ address, port });

t.test(
  'one address gets perAddress new nicks a window, whatever its ports; others theirs',
  async (t) => {
    const admission = new NewNickAdmission({ perAddress: 3, overall: 1000, windowMs: 60_000 });
    t.equal(await admission.admit(from('10.0.0.1', 1)), undefined);
    t.equal(await admission.admit(from('10.0.0.1', 2)), undefined);
    t.equal(await admission.admit(from('10.0.0.1', 3)), undefined);
    t.equal(await admission.admit(from('10.0.0.1', 4)), 'address', 'a fourth, from another port');
    t.equal(await admission.admit(from('10.0.0.2')), undefined, 'another address is not held up');
    t.equal(await admission.admit(from('10.0.0.1')), 'address', 'refused again');
    t.equal(admission.refused, 2);
  },
);

t.test('everyone: at most a tenth of `overall` at once (the burst), then refused', async (t) => {
  const admission = new NewNickAdmission({ perAddress: 100, overall: 20, windowMs: 60_000 });
  const verdicts = [];
  for (let i = 1; i <= 5; i++) verdicts.push(await admission.admit(from(`10.0.1.${i}`)));
  t.same(
    verdicts,
    [undefined, undefined, 'overall', 'overall', 'overall'],
    'a burst of 2 (a tenth of 20), from five addresses',
  );
  t.equal(admission.refused, 3);
});

t.test('the burst is at least one: with overall under ten, one new nick at a time', async (t) => {
  // overall 5: the burst is ceil(5/10) = 1 per tenth of the window.
  const admission = new NewNickAdmission({ perAddress: 100, overall: 5, windowMs: 60_000 });
  t.equal(await admission.admit(from('10.0.2.1')), undefined);
  t.equal(await admission.admit(from('10.0.2.2')), 'overall', 'the burst of one is spent');
});

t.test('a nick refused by its address spends nothing of the budget everyone shares', async (t) => {
  const admission = new NewNickAdmission({ perAddress: 1, overall: 20, windowMs: 60_000 });
  t.equal(await admission.admit(from('10.0.0.1')), undefined);
  for (let i = 0; i < 5; i++) t.equal(await admission.admit(from('10.0.0.1')), 'address');
  t.equal(
    await admission.admit(from('10.0.0.2')),
    undefined,
    'the burst (2) was spent once, by the one admitted',
  );
  t.equal(await admission.admit(from('10.0.0.3')), 'overall', 'and now twice');
  t.equal(admission.refused, 6);
});

t.test('past the burst, every new nick is refused and counted', async (t) => {
  const admission = new NewNickAdmission({ perAddress: 100, overall: 10, windowMs: 60_000 });
  t.equal(await admission.admit(from('10.0.0.1')), undefined, 'the burst of one');
  for (let i = 2; i < 30; i++) t.equal(await admission.admit(from(`10.0.0.${i}`)), 'overall');
  t.equal(admission.refused, 28);
});

t.test('the refusal texts the registry answers with', async (t) => {
  t.equal(newNickRefusal('address'), 'too many new nicks from this address: wait a minute');
  t.equal(
    newNickRefusal('overall'),
    'the registry takes few new nicks at the moment: try again in a minute',
  );
});

t.test(
  'hellos: perAddress a window from one address, whatever its ports; others theirs',
  async (t) => {
    const admission = new HelloAdmission({ perAddress: 2, overall: 1000, windowMs: 60_000 });
    t.equal(await admission.admit(from('10.0.3.1', 1)), true);
    t.equal(await admission.admit(from('10.0.3.1', 2)), true);
    t.equal(await admission.admit(from('10.0.3.1', 3)), false, 'a third, from another port');
    t.equal(await admission.admit(from('10.0.3.2')), true, 'another address is not held up');
    t.equal(admission.dropped, 1);
  },
);

t.test(
  'hellos: past overall, none from anyone; one refused by its address spends nothing of it',
  async (t) => {
    const admission = new HelloAdmission({ perAddress: 1, overall: 3, windowMs: 60_000 });
    t.equal(await admission.admit(from('10.0.4.1')), true);
    for (let i = 0; i < 5; i++) t.equal(await admission.admit(from('10.0.4.1')), false);
    t.equal(await admission.admit(from('10.0.4.2')), true, 'the second of 3');
    t.equal(await admission.admit(from('10.0.4.3')), true, 'the third');
    t.equal(await admission.admit(from('10.0.4.4')), false, 'none left for anyone');
    t.equal(admission.dropped, 6);
  },
);

t.test(
  'two nodes given one place for budgets (as on one Redis): the per-address and overall budgets are one, the burst each its own',
  async (t) => {
    // One budget per name, whichever node asks: what a store keeping them for every node does.
    const shared = new Map<string, RateLimiterMemory>();
    const made: string[] = [];
    const make: MakeBudget = (name, points, seconds) => {
      made.push(name);
      if (!shared.has(name)) shared.set(name, new RateLimiterMemory({ points, duration: seconds }));
      return shared.get(name)!;
    };
    const options = { perAddress: 2, overall: 1000, windowMs: 60_000 };
    const [a, b] = [new NewNickAdmission(options, make), new NewNickAdmission(options, make)];
    t.same(
      [...new Set(made)].sort(),
      ['new-nicks', 'new-nicks-address'],
      'the burst is not asked of the store',
    );
    t.equal(await a.admit(from('10.0.3.1')), undefined);
    t.equal(await b.admit(from('10.0.3.1')), undefined);
    t.equal(await a.admit(from('10.0.3.1')), 'address', 'the third at either node');
    t.equal(await b.admit(from('10.0.3.1')), 'address');
    // overall 1000: a burst of 100 per tenth of the window, at each node.
    const burst = async (node: NewNickAdmission, first: number) => {
      const verdicts = [];
      for (let i = 0; i < 101; i++) verdicts.push(await node.admit(from(`10.1.${first}.${i}`)));
      return verdicts.filter((verdict) => verdict === undefined).length;
    };
    t.equal(await burst(a, 0), 99, "node a's burst of 100 (one spent above)");
    t.equal(await burst(b, 1), 99, "node b's own burst of 100, not a's leftovers");
  },
);
