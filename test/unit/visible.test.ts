import t from 'tap';
import fc from 'fast-check';
import { jsonLine, visible } from '../../src/cli/visible.js';
import { nickProblem } from '../../src/protocol/nick.js';

t.test(
  'controls in caret notation, C1 and bidi controls as \\u escapes, the rest as is',
  async (t) => {
    t.equal(visible('\u001b]2;x\u0007'), '^[]2;x^G');
    t.equal(visible('a\rb\nc\u0000\u007f'), 'a^Mb^Jc^@^?');
    t.equal(visible('\u009b\u0085\u202e\u2066\u2028'), '\\u009b\\u0085\\u202e\\u2066\\u2028');
    t.equal(visible('tab\tstays, so do é, 漢字 and 🙂'), 'tab\tstays, so do é, 漢字 and 🙂');
  },
);

t.test('property: nothing a terminal obeys survives', async (t) => {
  const unsafe =
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 200 }),
      (text) => !unsafe.test(visible(text)),
    ),
    { numRuns: 2000 },
  );
  t.pass('2,000 strings, none with a raw control left');
});

t.test('a nick names a folder: no dot first, so never ".", ".." or hidden', async (t) => {
  for (const nick of ['.', '..', '.bashrc', '...']) t.ok(nickProblem(nick), `${nick} refused`);
  t.equal(nickProblem('a.b'), undefined, 'a dot inside is fine');
});

t.test(
  'property: a --json line parses back to the same value, with no control or bidi character raw in it',
  async () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const line = jsonLine({ event: 'message', text });
        const raw =
          /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
        const back = JSON.parse(line) as { text: string };
        return !raw.test(line) && back.text === text;
      }),
      { numRuns: 500 },
    );
  },
);
