import t from 'tap';
import { settleWithin } from '../../src/util/clock.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { deferred, settle } from '../helpers/settle.js';

const watch = (promise: Promise<void>) => {
  const state = { done: false };
  void promise.then(() => (state.done = true));
  return state;
};

t.test('settles when the work does, and clears its timer', async (t) => {
  const faked = fakeClock();
  const work = deferred();
  const waited = watch(settleWithin(work.promise, 1000, faked.clock));
  t.equal(faked.pending, 1, 'a timer armed');
  faked.advance(999);
  await settle();
  t.equal(waited.done, false, 'neither the work nor the time is over');
  work.resolve();
  await settle();
  t.equal(waited.done, true, 'settled with the work');
  t.equal(faked.pending, 0, 'its timer cleared');
});

t.test('settles after the time when the work is still under way', async (t) => {
  const faked = fakeClock();
  const waited = watch(settleWithin(deferred().promise, 1000, faked.clock));
  faked.advance(1000);
  await settle();
  t.equal(waited.done, true, 'settled by the timer');
  t.equal(faked.pending, 0);
});

t.test('a work that fails settles it too, without a rejection', async (t) => {
  const faked = fakeClock();
  const work = deferred();
  const waited = watch(settleWithin(work.promise, 1000, faked.clock));
  work.reject(new Error('gone'));
  await settle();
  t.equal(waited.done, true);
  t.equal(faked.pending, 0, 'its timer cleared');
});
