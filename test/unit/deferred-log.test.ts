import t from 'tap';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { HELD_MAX, deferredLog } from '../../src/cli/deferred-log.js';

/** A real pino logger writing JSON records into `records`. */
function pinoInto(records: Array<Record<string, unknown>>, level = 'info'): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level, base: undefined }, sink);
}

t.test('nothing below the level loads pino', async (t) => {
  let loads = 0;
  const lines: string[] = [];
  const { log, loaded } = deferredLog(
    'warn',
    async () => (loads++, pinoInto([])),
    (line) => lines.push(line),
  );
  log.debug('quiet');
  log.info({ a: 1 }, 'quiet too');
  log.child({ component: 'transport' }).info('and this');
  t.equal(loads, 0, 'never loaded');
  t.equal(loaded(), undefined);
  t.same(lines, []);
});

t.test(
  'records while pino loads are written once it has, in order, with their bindings',
  async (t) => {
    const records: Array<Record<string, unknown>> = [];
    let loads = 0;
    const { log, loaded } = deferredLog(
      'info',
      async () => (loads++, pinoInto(records)),
      () => t.fail('no fallback'),
    );
    const transport = log.child({ component: 'transport' });
    log.info('first');
    transport.warn({ peer: 'bob' }, 'second');
    log.debug('below the level');
    log.error(new Error('boom'), 'third');
    t.same(records, [], 'held while loading');
    await loaded();
    t.equal(loads, 1, 'loaded once');
    t.same(
      records.map((r) => [r.msg, r.level, r.component, r.peer]),
      [
        ['first', 30, undefined, undefined],
        ['second', 40, 'transport', 'bob'],
        ['third', 50, undefined, undefined],
      ],
    );
    t.match(records[2], { err: { message: 'boom' } }, 'an error as pino serialises it');
    transport.info('after');
    t.same(
      records.at(-1),
      { level: 30, time: records.at(-1)!.time, component: 'transport', msg: 'after' },
      'straight through once loaded',
    );
  },
);

t.test('what is still held at exit goes through the fallback as JSON lines', async (t) => {
  const lines: string[] = [];
  const { log, writeHeld } = deferredLog(
    'info',
    () => new Promise<Logger>(() => undefined), // never loads
    (line) => lines.push(line),
    { name: 'udpchat-alice' },
  );
  log.child({ component: 'transport' }).warn({ err: new Error('gone'), peer: 'bob' }, 'lost peer');
  log.info('bye');
  writeHeld();
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.ok(
    lines.every((line) => line.endsWith('\n')),
    'one line each',
  );
  t.match(records, [
    {
      level: 40,
      name: 'udpchat-alice',
      component: 'transport',
      peer: 'bob',
      msg: 'lost peer',
      err: { message: 'gone' },
    },
    { level: 30, name: 'udpchat-alice', msg: 'bye' },
  ]);
  t.type(records[0].time, 'number');
  writeHeld();
  t.equal(lines.length, 2, 'each written once');
});

t.test('a logger that fails to load: what was held goes through the fallback', async (t) => {
  const lines: string[] = [];
  const { log, loaded } = deferredLog(
    'info',
    async () => {
      throw new Error('no pino');
    },
    (line) => lines.push(line),
  );
  log.warn('held');
  await loaded();
  t.match(JSON.parse(lines[0]), { level: 40, msg: 'held' });
});

t.test(`at most ${HELD_MAX} records are held; the oldest go`, async (t) => {
  const lines: string[] = [];
  const { log, writeHeld } = deferredLog(
    'info',
    () => new Promise<Logger>(() => undefined),
    (line) => lines.push(line),
  );
  for (let i = 0; i < HELD_MAX + 5; i++) log.info(`m${i}`);
  writeHeld();
  t.equal(lines.length, HELD_MAX);
  t.match(JSON.parse(lines[0]), { msg: 'm5' });
});
