import fc from 'fast-check';
import t from 'tap';
import { decode, encodeReply, encodeRequest } from '../../src/protocol/codec.js';
import {
  MAX_DATAGRAM_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_TEXT_BYTES,
  WireError,
} from '../../src/protocol/constants.js';
import type { ReplyBody, RequestBody } from '../../src/protocol/messages.js';

const key = Buffer.alloc(32, 7).toString('base64');
const sealed = { enc: key, ct: Buffer.from('ciphertext').toString('base64') };
const table = {
  epoch: 'e1',
  version: 3,
  entries: [{ nick: 'bob', ip: '127.0.0.1', port: 4000, online: true, sk: key, ek: key }],
};
const requests: RequestBody[] = [
  { t: 'register', nick: 'alice', sk: key, ek: key },
  { t: 'hello', nick: 'alice', sk: key, pad: '.'.repeat(200) },
  { t: 'deregister', nick: 'alice' },
  { t: 'save', from: 'alice', to: 'bob', mid: 'm1', sealed },
  { t: 'chat', from: 'alice', mid: 'm2', sealed, after: 'm1' },
  { t: 'group_msg', group: 'g', from: 'alice', mid: 'm2', text: 'héllo ✓ 🎉' },
  { t: 'probe', nick: 'bob' },
  { t: 'table', table },
  { t: 'table', table, refresh: true },
  {
    t: 'deliver',
    kind: 'saved',
    first: true,
    messages: [{ from: 'alice', mid: 'm3', sealed, ts: 1700000000000 }],
  },
];
const replies: ReplyBody[] = [
  { t: 'ack' },
  { t: 'registered', pending: 3 },
  { t: 'save_result', outcome: 'relayed' },
  { t: 'save_result', outcome: 'saved' },
  { t: 'err', code: WireError.NICK_TAKEN, message: 'nick alice is taken' },
];

t.test('every request and reply survives a round trip', async (t) => {
  for (const body of requests) {
    const decoded = decode(encodeRequest('id-1', body));
    t.same(decoded, { ok: true, message: { v: 1, id: 'id-1', ...body } }, body.t);
  }
  for (const body of replies) {
    const decoded = decode(encodeReply('id-2', body));
    t.same(decoded, { ok: true, message: { v: 1, re: 'id-2', ...body } }, body.t);
  }
});

t.test('hostile bytes are refused with a reason, never thrown', async (t) => {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const cases: Array<[string, Buffer, string]> = [
    ['empty', Buffer.alloc(0), 'json'],
    ['truncated', encodeRequest('x', { t: 'probe', nick: 'bob' }).subarray(0, 20), 'json'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'encoding'],
    ['a JSON array', json([1, 2]), 'json'],
    ['a JSON string', json('register'), 'json'],
    ['null', json(null), 'json'],
    ['wrong version', json({ v: 2, t: 'probe', id: 'a', nick: 'bob' }), 'version'],
    ['no version', json({ t: 'probe', id: 'a', nick: 'bob' }), 'version'],
    ['unknown type', json({ v: 1, t: 'launch', id: 'a' }), 'unknown-type'],
    ['type not a string', json({ v: 1, t: 7, id: 'a' }), 'unknown-type'],
    ['missing field', json({ v: 1, t: 'chat', id: 'a', from: 'alice', sealed }), 'schema'],
    [
      'wrong field type',
      json({ v: 1, t: 'chat', id: 'a', from: 'alice', mid: 5, sealed }),
      'schema',
    ],
    [
      'port out of range',
      json({
        v: 1,
        t: 'table',
        id: 'a',
        table: {
          ...table,
          entries: [{ nick: 'b', ip: 'x', port: 70000, online: true, sk: key, ek: key }],
        },
      }),
      'schema',
    ],
    [
      'nick too long',
      json({ v: 1, t: 'register', id: 'a', nick: 'n'.repeat(33), sk: key, ek: key }),
      'schema',
    ],
    [
      'key of the wrong length',
      json({ v: 1, t: 'register', id: 'a', nick: 'bob', sk: 'abc', ek: key }),
      'schema',
    ],
    [
      'id too long',
      json({ v: 1, t: 'register', id: 'i'.repeat(65), nick: 'bob', sk: key, ek: key }),
      'schema',
    ],
    ['oversized datagram', Buffer.alloc(MAX_DATAGRAM_BYTES + 1, 0x20), 'oversized'],
    [
      'proto pollution',
      Buffer.from('{"v":1,"t":"probe","id":"a","nick":"bob","__proto__":{"x":1}}'),
      'ok',
    ],
  ];
  for (const [name, datagram, reason] of cases) {
    const decoded = decode(datagram);
    t.equal(decoded.ok ? 'ok' : decoded.reason, reason, name);
  }
  // A reassembled request may be larger than one datagram; its text is still capped, as encoded.
  const long = (text: string) =>
    decode(
      json({ v: 1, t: 'group_send', id: 'a', from: 'alice', group: 'g', mid: 'm', text }),
      MAX_MESSAGE_BYTES,
    );
  t.equal(long('é'.repeat(MAX_TEXT_BYTES / 2)).ok, true, 'at the cap in UTF-8 bytes');
  t.match(
    long('é'.repeat(MAX_TEXT_BYTES / 2 + 1)),
    { ok: false, reason: 'schema' },
    'one character over',
  );
  t.match(
    long('\u0001'.repeat(MAX_TEXT_BYTES / 6 + 1)),
    { ok: false, reason: 'schema' },
    'over as escaped JSON',
  );
});

t.test(
  'a readable bad request names its id so it can be answered; replies never are',
  async (t) => {
    const bad = decode(Buffer.from(JSON.stringify({ v: 1, t: 'launch', id: 'req-9' })));
    t.match(bad, { ok: false, reason: 'unknown-type', requestId: 'req-9' });
    const badReply = decode(
      Buffer.from(JSON.stringify({ v: 1, t: 'launch', id: 'x', re: 'req-9' })),
    );
    t.match(badReply, { ok: false, requestId: undefined });
  },
);

t.test('property: decode never throws and accepts only what encode could produce', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const decoded = decode(bytes);
      return decoded.ok === false || typeof decoded.message.t === 'string';
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.json(), (text) => {
      decode(Buffer.from(text));
      return true;
    }),
    { numRuns: 2000 },
  );
});

t.test('property: any chat text up to the cap round-trips exactly', async () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 400 }),
      fc.string({ minLength: 1, maxLength: 64 }),
      (text, mid) => {
        const decoded = decode(
          encodeRequest('id', { t: 'group_msg', group: 'g', from: 'alice', mid, text }),
        );
        return (
          decoded.ok &&
          decoded.message.t === 'group_msg' &&
          decoded.message.text === text &&
          decoded.message.mid === mid
        );
      },
    ),
    { numRuns: 500 },
  );
});

t.test(
  'property: a request or reply is written byte for byte as JSON.stringify writes { v, ...body, id }',
  async () => {
    // Bodies of any fields (none named v, id or re, as no message has; nor an integer, which
    // an object puts before every other key, and no message has either), values of any JSON
    // kind, undefined ones included (left out, as JSON leaves them).
    const field = fc
      .string({ maxLength: 8 })
      .filter((name) => !['v', 'id', 're'].includes(name) && !/^(0|[1-9]\d*)$/.test(name));
    const body = fc.dictionary(
      field,
      fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.string({ unit: 'binary' })),
      { maxKeys: 8 },
    );
    fc.assert(
      fc.property(body, fc.string({ unit: 'binary', maxLength: 64 }), (fields, id) => {
        const request = encodeRequest(id, fields as unknown as RequestBody);
        const reply = encodeReply(id, fields as unknown as ReplyBody);
        return (
          request.equals(Buffer.from(JSON.stringify({ v: 1, ...fields, id }), 'utf8')) &&
          reply.equals(Buffer.from(JSON.stringify({ v: 1, ...fields, re: id }), 'utf8'))
        );
      }),
      { numRuns: 2000 },
    );
  },
);
