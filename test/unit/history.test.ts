import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { HISTORY_LINES, loadHistory } from '../../src/cli/terminal.js';

const typed = (count: number) => Array.from({ length: count }, (_, i) => `send bob line ${i}`);

t.test('history: the last lines loaded, most recent first; the file left as it is', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'history');
  writeFileSync(file, `${typed(HISTORY_LINES + 300).join('\n')}\n`);
  const loaded = await loadHistory(file);
  t.equal(loaded.length, HISTORY_LINES);
  t.equal(loaded[0], `send bob line ${HISTORY_LINES + 299}`, 'the last typed first');
  t.equal(readFileSync(file, 'utf8').split('\n').length - 1, HISTORY_LINES + 300, 'not cut yet');
});

t.test('history: a file past twice the lines loaded is cut back to them', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'history');
  const lines = typed(2 * HISTORY_LINES + 1);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const loaded = await loadHistory(file);
  t.equal(loaded.length, HISTORY_LINES);
  t.same(readFileSync(file, 'utf8'), `${lines.slice(-HISTORY_LINES).join('\n')}\n`);
  t.same(readdirSync(dir), ['history'], 'no temporary file left behind');
  t.same(await loadHistory(file), loaded, 'the same lines next time');
});

t.test('history: none yet', async (t) => {
  t.same(await loadHistory(join(t.testdir(), 'nick', 'history')), []);
});
