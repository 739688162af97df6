import fc from 'fast-check';
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod/mini';
import {
  buildSchema,
  COMPILE_AFTER,
  MESSAGE_TYPES,
  schemaOf,
  type MessageType,
} from '../../src/protocol/messages.js';

// schemaOf compiles each schema (z.compile) once it has checked COMPILE_AFTER datagrams: the
// compiled one must take and refuse exactly what the schema as written does, and give the same
// value back.

const key = Buffer.alloc(32, 7).toString('base64');
const sealed = { enc: key, ct: 'Y2lwaGVydGV4dA==', n: 'AAAAAAAAAAAAAAAA' };
/** A valid message of each type on the hot path, and of a few others with nested parts. */
const examples: Array<Record<string, unknown>> = [
  { v: 1, t: 'chat', id: 'i1', from: 'alice', mid: 'm2', sealed, after: 'm1', afterTaken: true },
  { v: 1, t: 'chat', id: 'i1', from: 'alice', mid: 'm2', sealed, all: true },
  { v: 1, t: 'ack', re: 'i1' },
  { v: 1, t: 'ack', re: 'i1', seq: 4, epoch: 'e1' },
  { v: 1, t: 'save', id: 'i2', from: 'alice', to: 'bob', mid: 'm3', sealed },
  { v: 1, t: 'group_msg', id: 'i3', group: 'g', from: 'alice', mid: 'm4', text: 'héllo\t✓' },
  {
    v: 1,
    t: 'deliver',
    id: 'i4',
    kind: 'saved',
    first: true,
    messages: [{ from: 'alice', mid: 'm3', sealed, ts: 1700000000000 }],
  },
  {
    v: 1,
    t: 'table',
    id: 'i5',
    table: {
      epoch: 'e1',
      version: 3,
      entries: [{ nick: 'bob', ip: '127.0.0.1', port: 4000, online: true, sk: key, ek: key }],
    },
  },
  { v: 1, t: 'err', re: 'i6', code: 3, message: 'no' },
];

/** Each type's schema as written, and compiled as schemaOf compiles it. */
const schemas = new Map(
  [...MESSAGE_TYPES].map((type) => {
    const written = buildSchema(type as MessageType);
    return [type, { written, compiled: z.compile(written) }];
  }),
);

function agree(type: MessageType, value: unknown): boolean {
  const { written: asWritten, compiled: asCompiled } = schemas.get(type)!;
  const written = asWritten.safeParse(value);
  const compiled = asCompiled.safeParse(value);
  if (written.success !== compiled.success) return false;
  return !written.success || isDeepStrictEqual(written.data, compiled.data);
}

t.test('schemaOf uses a schema as written, then compiled once it has checked enough', async (t) => {
  const first = schemaOf('probe');
  for (let i = 1; i < COMPILE_AFTER; i++) t.equal(schemaOf('probe'), first);
  const compiled = schemaOf('probe');
  t.not(compiled, first, 'compiled: another schema (zod compiles a clone)');
  t.equal(schemaOf('probe'), compiled, 'and kept');
  t.ok(compiled.safeParse({ v: 1, t: 'probe', id: 'i', nick: 'bob' }).success);
  t.notOk(compiled.safeParse({ v: 1, t: 'probe', id: 'i', nick: '' }).success);
});

t.test('the examples are valid both ways', async (t) => {
  for (const example of examples) {
    t.ok(schemas.get(String(example.t))!.compiled.safeParse(example).success, String(example.t));
    t.ok(agree(example.t as MessageType, example));
  }
});

t.test('property: a valid message changed anywhere is judged alike, compiled or not', async () => {
  const paths = (value: unknown, prefix: string[] = []): string[][] =>
    typeof value === 'object' && value !== null
      ? Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])])
      : [];
  const change = (value: unknown, path: string[], to: unknown, remove: boolean): unknown => {
    const copy = structuredClone(value) as Record<string, unknown>;
    let at = copy;
    for (const step of path.slice(0, -1)) at = at[step] as Record<string, unknown>;
    if (remove) delete at[path.at(-1)!];
    else at[path.at(-1)!] = to;
    return copy;
  };
  fc.assert(
    fc.property(
      fc
        .constantFrom(...examples)
        .chain((example) =>
          fc.tuple(
            fc.constant(example),
            fc.constantFrom(...paths(example), ['extra']),
            fc.oneof(
              fc.anything(),
              fc.string({ maxLength: 80 }),
              fc.integer(),
              fc.double(),
              fc.constantFrom(null, true, false, '', key, 1, -1, 65536, 2 ** 53),
            ),
            fc.boolean(),
          ),
        ),
      ([example, path, to, remove]) =>
        agree(example.t as MessageType, change(example, path, to, remove)),
    ),
    { numRuns: 3000 },
  );
});

t.test('property: anything at all is judged alike for every type', async () => {
  const types = [...MESSAGE_TYPES] as MessageType[];
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.anything(), (type, value) => agree(type, value)),
    { numRuns: 2000 },
  );
});
