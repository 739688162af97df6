import t from 'tap';
import pino from 'pino';
import { ClientSessions } from '../../src/registry/client-sessions.js';
import {
  ClusterLink,
  NICKS_PER_ANNOUNCEMENT,
  type ClusterContext,
} from '../../src/registry/cluster.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { Sessions } from '../../src/crypto/sealing.js';
import type { ClientRecord } from '../../src/store/store.js';

const record = (nick: string, node?: string): ClientRecord => ({
  nick,
  ip: '127.0.0.1',
  port: 4000,
  online: true,
  deregistered: false,
  sk: `sk-${nick}`,
  ek: `ek-${nick}`,
  ...(node ? { node } : {}),
});

/** A link over a fake shared store: what it announces, and a way to deliver others' announcements. */
function link(options: { shared?: boolean; records?: ClientRecord[] } = {}) {
  const announced: string[] = [];
  let listener: ((what: string) => void) | undefined;
  const took: string[][] = [];
  const groups: Array<Record<string, string[]>> = [];
  const work: Array<Promise<void>> = [];
  const stored = new Map((options.records ?? []).map((r) => [r.nick, r]));
  const store: ClusterContext['store'] = {
    loadClient: async (nick) => stored.get(nick),
    loadGroups: async () => ({ lobby: ['ann'] }),
    ...(options.shared === false
      ? {}
      : {
          announce: async (what: string) => void announced.push(what),
          onAnnouncement: async (l: (what: string) => void) => void (listener = l),
        }),
  };
  const cluster = new ClusterLink({
    store,
    log: pino({ level: 'silent' }),
    took: (records) => void took.push(records.map((r) => r.nick)),
    groupsChanged: (g) => void groups.push(g),
    background: (w) => void work.push(w),
    closed: () => false,
  });
  return {
    cluster,
    announced,
    took,
    groups,
    hear: (what: string) => listener?.(what),
    settled: () => Promise.all(work),
  };
}

t.test('a node alone on its store serves everyone and announces nothing', async (t) => {
  const { cluster, announced } = link({ shared: false });
  await cluster.listen();
  cluster.nodeId = 'a';
  t.notOk(cluster.shared);
  t.ok(cluster.serves(record('ann', 'b')), 'even a record naming another node');
  cluster.changed(['ann']);
  t.same(announced, []);
});

t.test(
  "nodes on one store: each serves its own; changes announced in batches under the node's name",
  async (t) => {
    const { cluster, announced } = link();
    await cluster.listen();
    cluster.nodeId = 'a';
    t.ok(cluster.serves(record('ann', 'a')));
    t.notOk(cluster.serves(record('bob', 'b')));
    t.ok(cluster.serves(record('cat')), "a record of no node (from before nodes) is everyone's");
    const many = Array.from({ length: NICKS_PER_ANNOUNCEMENT + 5 }, (_, i) => `n${i}`);
    cluster.changed(many);
    cluster.groupChanged('lobby');
    t.equal(announced.length, 3, 'two batches of nicks, then the group');
    t.ok(announced[0].startsWith('a n0,n1,'));
    t.equal(announced[1], `a ${many.slice(NICKS_PER_ANNOUNCEMENT).join(',')}`);
    t.equal(announced[2], 'a group:lobby');
  },
);

t.test(
  "another node's announcements are read from the store and handed over; this node's own are not",
  async (t) => {
    const { cluster, took, groups, hear, settled } = link({
      records: [record('ann', 'b'), record('bob', 'b')],
    });
    await cluster.listen();
    cluster.nodeId = 'a';
    hear('a ann');
    hear('b ann,bob,gone');
    hear('b group:lobby');
    hear('garbage');
    await settled();
    t.same(
      took,
      [['ann', 'bob']],
      'the records the store holds (gone is not there); its own announcement ignored',
    );
    t.same(groups, [{ lobby: ['ann'] }]);
  },
);

t.test(
  'client sessions: a session set up by the client is taken; its key goes with requests until forgotten',
  async (t) => {
    const registry = await generateIdentity();
    const client = await generateIdentity();
    const sessions = new ClientSessions(
      new Sessions(registry.agreement),
      pino({ level: 'silent' }),
    );
    const outgoing = await new Sessions(client.agreement).datagramSession(
      registry.agreement.publicRaw,
    );
    t.same(sessions.to('ann'), { signer: 'ann' }, 'none yet: signed');
    await sessions.take('ann', outgoing.enc, client.agreement.publicRaw);
    t.ok(sessions.has('ann'));
    const to = sessions.to('ann');
    t.equal(to.mac?.sid, outgoing.mac.sid, 'the same session');
    t.same(to.mac?.key, outgoing.mac.key, 'the same key at both ends');
    sessions.forget('ann');
    t.same(sessions.to('ann'), { signer: 'ann' });
    const other = await generateIdentity();
    await sessions.take('bob', outgoing.enc, other.agreement.publicRaw);
    t.notSame(
      sessions.to('bob').mac?.key,
      outgoing.mac.key,
      'claimed for another key (HPKE Auth mode): a key the client does not hold, so nothing it sends under it checks out',
    );
  },
);
