import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ServerPins } from '../../src/cli/pins.js';

t.test(
  'a pin is on disk when set returns: a client killed right after its welcome keeps it',
  (t) => {
    const dir = t.testdir();
    const path = join(dir, 'servers.json');
    const pins = new ServerPins(path, '127.0.0.1:12345');
    t.equal(pins.get(), undefined, 'none before');
    pins.set('KEY-A');
    // Read straight from the file, as the next start does, with no turn of the event loop between.
    t.same(JSON.parse(readFileSync(path, 'utf8')), { '127.0.0.1:12345': 'KEY-A' });
    t.equal(new ServerPins(path, '127.0.0.1:12345').get(), 'KEY-A', 'the next start reads it');
    t.equal(statSync(path).mode & 0o777, 0o600, 'readable by its owner alone');
    t.same(readdirSync(dir), ['servers.json'], 'no temporary file left behind');
    t.end();
  },
);

t.test("pinning one server keeps the others' pins", (t) => {
  const path = join(t.testdir(), 'servers.json');
  writeFileSync(path, JSON.stringify({ '10.0.0.1:1': 'KEY-OLD' }));
  new ServerPins(path, '127.0.0.1:12345').set('KEY-B');
  t.same(JSON.parse(readFileSync(path, 'utf8')), {
    '10.0.0.1:1': 'KEY-OLD',
    '127.0.0.1:12345': 'KEY-B',
  });
  t.equal(new ServerPins(path, '10.0.0.1:1').get(), 'KEY-OLD');
  t.end();
});

t.test(
  'a file that is not pinned keys stops the client rather than counting as no pins, and is left as it was',
  (t) => {
    const dir = t.testdir();
    const path = join(dir, 'servers.json');
    for (const text of ['{"10.0.0.1:1": "KEY-OLD"', '["KEY-OLD"]', '{"10.0.0.1:1": 7}', 'null']) {
      writeFileSync(path, text);
      const pins = new ServerPins(path, '127.0.0.1:12345');
      t.throws(() => pins.get(), /is not a file of pinned server keys: fix it, or remove it/, text);
      t.throws(() => pins.set('KEY-NEW'), /is not a file of pinned server keys/, text);
      t.equal(readFileSync(path, 'utf8'), text, `not written over: ${text}`);
    }
    t.end();
  },
);

t.test('a pin file that cannot be read stops the client too', (t) => {
  const path = join(t.testdir(), 'servers.json');
  mkdirSync(path); // reading it fails (EISDIR), as a file without read permission would
  t.throws(
    () => new ServerPins(path, '127.0.0.1:12345').get(),
    /cannot read the pinned server keys/,
  );
  t.end();
});
