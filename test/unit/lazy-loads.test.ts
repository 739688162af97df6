import { spawn } from 'node:child_process';
import t from 'tap';

/**
 * Runs `code` (an ES module) in a fresh node with the sources loadable, and returns what it
 * printed: the packages a step had loaded, as the CommonJS loader's cache names them.
 */
async function run(code: string): Promise<string> {
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code_ = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code_ !== 0) throw new Error(`exited ${code_}: ${out}`);
  return out.trim();
}

const LOADED = `
import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
const loaded = () => [...new Set(Object.keys(cache)
  .map((path) => /node_modules\\/(ioredis|prom-client|pino)\\//.exec(path)?.[1])
  .filter(Boolean))].sort();
`;

t.test('importing the library loads neither ioredis, prom-client nor pino', async (t) => {
  const out = await run(`${LOADED}
await import('./src/index.ts');
console.log(JSON.stringify(loaded()));`);
  t.same(JSON.parse(out), []);
});

t.test('a RedisStore loads ioredis when it opens, not before', async (t) => {
  const out = await run(`${LOADED}
const { RedisStore } = await import('./src/index.ts');
const store = new RedisStore({ url: 'redis://127.0.0.1:1', prefix: 'lazy:' });
const before = loaded();
const opened = await store.open().then(() => 'opened', (error) => error.message);
console.log(JSON.stringify({ before, after: loaded(), opened }));
await store.close();`);
  const { before, after, opened } = JSON.parse(out) as {
    before: string[];
    after: string[];
    opened: string;
  };
  t.same(before, [], 'made, not opened: nothing loaded');
  t.same(after, ['ioredis'], 'opened: ioredis');
  t.match(
    opened,
    /^cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1$/,
    'and the failure says where, and why',
  );
});

t.test(
  "an endpoint binding and sending to addresses loads neither node:dns nor node:perf_hooks (a client's start spares both)",
  async (t) => {
    const out = await run(`
const before = new Set(process.moduleLoadList);
const { Endpoint } = await import('./src/transport/endpoint.ts');
const a = new Endpoint(), b = new Endpoint();
const at = await b.listen(0, '127.0.0.1');
await a.listen(0, '127.0.0.1');
b.onRequest((_request, _from, respond) => respond({ t: 'ack' }));
const reply = await a.request(at, { t: 'probe', nick: 'bob' }, { timeoutMs: 5000, tries: 3 });
const loaded = process.moduleLoadList.filter((m) => !before.has(m) && /^NativeModule (dns|perf_hooks)$/.test(m));
console.log(JSON.stringify({ reply: reply.t, loaded }));
a.close(); b.close();`);
    t.same(JSON.parse(out), { reply: 'ack', loaded: [] });
  },
);

t.test('the sockets take an address as it is, at once; a name goes to node:dns', async (t) => {
  const { lookupLiteral } = await import('../../src/transport/address.js');
  const answers: Array<[string, number]> = [];
  lookupLiteral('127.0.0.1', 4, (_error, address, family) => answers.push([address, family]));
  lookupLiteral('::1', { family: 6 }, (_error, address, family) => answers.push([address, family]));
  t.same(
    answers,
    [
      ['127.0.0.1', 4],
      ['::1', 6],
    ],
    'answered before the call returns',
  );
  const named = await new Promise<[string, number]>((resolve, reject) =>
    lookupLiteral('localhost', 4, (error, address, family) =>
      error ? reject(error) : resolve([address, family]),
    ),
  );
  t.same(named, ['127.0.0.1', 4], 'localhost resolved by node:dns');
});
