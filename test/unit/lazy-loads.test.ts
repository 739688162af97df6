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
  t.match(opened, /^cannot reach Redis at redis:\/\/127\.0\.0\.1:1/, 'and the failure says where');
});
