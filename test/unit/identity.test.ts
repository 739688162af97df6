import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadOrCreateIdentity } from '../../src/crypto/identity.js';

t.test(
  'an identity file is made on first use, mode 0600, and is the same identity next time',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, 'alice', 'identity.json');
    const made = await loadOrCreateIdentity(path);
    t.equal(statSync(path).mode & 0o777, 0o600);
    t.same(readdirSync(join(dir, 'alice')), ['identity.json'], 'no temporary file left behind');
    const again = await loadOrCreateIdentity(path);
    t.same(again.public, made.public);
  },
);

t.test(
  'two processes making the same identity at once both end up with one identity',
  async (t) => {
    const path = join(t.testdir(), 'identity.json');
    const [first, second, third] = await Promise.all([
      loadOrCreateIdentity(path),
      loadOrCreateIdentity(path),
      loadOrCreateIdentity(path),
    ]);
    t.same(second.public, first.public);
    t.same(third.public, first.public);
    t.same((await loadOrCreateIdentity(path)).public, first.public, 'the one on disk');
  },
);
