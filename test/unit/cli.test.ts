import t from 'tap';
import {
  ArgumentError,
  defaultDataDir,
  parseCount,
  parseHost,
  parseLogLevel,
  parseNick,
  parsePort,
} from '../../src/cli/args.js';
import { COMMAND_HELP, COMMAND_NAMES, parseCommand, parseLine } from '../../src/cli/commands.js';
import { dress, nickColour, PLAIN, wantsColour } from '../../src/cli/style.js';
import {
  formatTimestamp,
  SCREEN_COLUMNS,
  renderLines,
  type OutputEvents,
} from '../../src/cli/render.js';

t.test('commands', async (t) => {
  t.same(parseCommand('send bob hi there  you'), {
    kind: 'send',
    to: 'bob',
    text: 'hi there  you',
  });
  t.same(parseCommand('  send   bob   hi  '), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(parseCommand('/msg bob hi'), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(
    parseCommand('send bob'),
    { kind: 'send', to: 'bob', text: '' },
    'empty text: the client says "empty"',
  );
  t.same(parseCommand('send'), { kind: 'usage', usage: 'send <nick> <message>' });
  t.same(parseCommand('dereg alice'), { kind: 'dereg', nick: 'alice' });
  t.same(parseCommand('dereg'), { kind: 'usage', usage: 'dereg <nick>' });
  t.same(parseCommand('dereg alice bob'), { kind: 'usage', usage: 'dereg <nick>' });
  t.same(parseCommand('reg alice'), { kind: 'reg', nick: 'alice' });
  t.same(parseCommand('help'), { kind: 'help' });
  t.same(parseCommand('help me'), { kind: 'usage', usage: 'help' });
  for (const quit of ['quit', 'exit', '/exit', '/quit'])
    t.same(parseCommand(quit), { kind: 'quit' }, quit);
  t.same(parseCommand('   '), { kind: 'empty' });
  t.same(
    parseCommand('Send bob Hi'),
    { kind: 'send', to: 'bob', text: 'Hi' },
    'commands are case-insensitive; the text is kept as typed',
  );
  t.same(parseCommand('QUIT'), { kind: 'quit' });
  t.same(parseCommand('/MSG bob hi'), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(
    parseCommand('/msg'),
    { kind: 'usage', usage: '/msg <nick> <message>' },
    "an alias's usage names the alias",
  );
  t.same(parseCommand('/join'), { kind: 'usage', usage: '/join <group>' });
  t.same(
    parseCommand('constructor'),
    { kind: 'unknown', command: 'constructor' },
    'no name from the object prototype',
  );
  t.same(parseCommand('hello everyone'), { kind: 'unknown', command: 'hello' });
});

t.test('in a conversation, what is not a whole command is text', async (t) => {
  t.same(parseCommand('chat bob'), { kind: 'chat', nick: 'bob' });
  t.same(parseCommand('/query bob'), { kind: 'chat', nick: 'bob' }, '/query is chat');
  t.same(
    parseCommand('chat'),
    { kind: 'chat', nick: undefined },
    'chat alone ends the conversation',
  );
  t.same(parseCommand('chat bob carol'), { kind: 'usage', usage: 'chat [<nick>]' });
  t.same(
    parseLine('hello everyone', false),
    { kind: 'unknown', command: 'hello' },
    'outside a conversation: the classic unknown-command line',
  );
  t.same(parseLine('  hello everyone ', true), { kind: 'say', text: 'hello everyone' });
  t.same(
    parseLine('all good here', true),
    { kind: 'say', text: 'all good here' },
    'a command word whose arguments do not fit is text',
  );
  t.same(parseLine('help me', true), { kind: 'say', text: 'help me' });
  t.same(parseLine('online', true), { kind: 'online' }, 'a whole command is still a command');
  t.same(parseLine('send bob hi', true), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(
    parseLine('/nope x', true),
    { kind: 'unknown', command: '/nope' },
    'a line starting with / is never sent as text',
  );
  t.same(parseLine('/msg', true), { kind: 'usage', usage: '/msg <nick> <message>' });
  t.same(parseLine('   ', true), { kind: 'empty' });
});

t.test('lines dressed for a terminal keep their text', async (t) => {
  const strip = (line: string) => line.replace(/\u001b\[[0-9;]*m/g, '');
  const now = new Date(2026, 11, 3, 9, 5);
  const colour = { ...PLAIN, colour: true };
  t.equal(
    dress('>>> alice: hi', 'message', { from: 'alice' }, PLAIN, now),
    '>>> alice: hi',
    'plain: untouched',
  );
  const nick = dress('>>> alice: hi', 'message', { from: 'alice' }, colour, now);
  t.not(nick, '>>> alice: hi', 'coloured');
  t.equal(strip(nick), '>>> alice: hi');
  t.ok(nick.startsWith('>>> \u001b['), 'the colour starts at the nick');
  t.ok(nick.endsWith(': hi'), 'the text is not coloured');
  t.equal(nickColour('alice'), nickColour('alice'), 'a nick keeps its colour');
  const group = dress(
    '>>> (alice) Group_Message alice: hi',
    'group-message',
    { from: 'alice' },
    colour,
    now,
  );
  t.ok(
    group.startsWith('>>> (alice) Group_Message \u001b['),
    'the sender is coloured, not the group of the same name',
  );
  t.equal(strip(group), '>>> (alice) Group_Message alice: hi');
  // Status lines dimmed, and the rows a long one is carried on in, in a group too.
  for (const [row, event] of [
    ['>>> [Client table updated.]', 'table'],
    ['>>>  once. Try again later.]', 'queued'],
    ['>>> (dev)  once. Try again later.]', 'queued'],
  ])
    t.equal(dress(row, event, {}, colour, now), `\u001b[2m${row}\u001b[22m`, `dimmed: ${row}`);
  t.equal(
    dress('>>>   help                     The commands.', 'help', {}, colour, now),
    '>>>   help                     The commands.',
    "help's rows are not",
  );
  t.equal(
    strip(dress('>>> [No user named zed.]', 'error', {}, colour, now)),
    '>>> [No user named zed.]',
  );
  t.not(
    dress('>>> [No user named zed.]', 'error', {}, colour, now),
    dress('>>> [No user named zed.]', 'table', {}, colour, now),
    'errors stand out from status lines',
  );
  t.equal(
    dress('>>> bob: hi', 'message', { from: 'bob' }, { ...PLAIN, timestamps: true }, now),
    '09:05 >>> bob: hi',
    'HH:MM before the line',
  );
  t.equal(
    dress(
      '>>> bob: 2026-12-03 09:01:00 hi',
      'saved-message',
      { from: 'bob' },
      { ...PLAIN, timestamps: true },
      now,
    ),
    '>>> bob: 2026-12-03 09:01:00 hi',
    'a saved message has its own time',
  );
  t.equal(
    dress('>>> bob: hi', 'message', { from: 'bob' }, { ...PLAIN, bell: true }, now),
    '\u0007>>> bob: hi',
    'the bell rings for a private message',
  );
  t.equal(
    dress(
      '>>> bob (to all): hi',
      'message',
      { from: 'bob', all: true },
      { ...PLAIN, bell: true },
      now,
    ),
    '>>> bob (to all): hi',
    'not for a broadcast',
  );
  t.equal(
    dress(
      '>>> [Message received by bob.]',
      'delivered',
      { to: 'bob' },
      { ...PLAIN, bell: true },
      now,
    ),
    '>>> [Message received by bob.]',
  );
  t.equal(wantsColour(true, false, {}), true);
  t.equal(wantsColour(true, false, { NO_COLOR: '1' }), false, 'NO_COLOR');
  t.equal(wantsColour(true, false, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset');
  t.equal(wantsColour(true, true, {}), false, '--no-color');
  t.equal(wantsColour(false, false, {}), false, 'never on a pipe');
});

t.test('arguments', async (t) => {
  t.equal(parsePort('port', '1024'), 1024);
  t.equal(parsePort('port', '65535'), 65535);
  for (const bad of ['1023', '65536', 'abc', '12.5', '', '-1', '0x50'])
    t.throws(() => parsePort('the port', bad), ArgumentError, bad);
  t.throws(() => parsePort('the client port', '99999'), {
    message: "the client port must be a port number from 1024 to 65535, not '99999'",
  });
  for (const good of ['127.0.0.1', '::1', 'localhost', 'chat.example.org', 'fe80::1'])
    t.equal(parseHost('h', good), good);
  for (const bad of ['', 'a b', '-bad', 'x'.repeat(300), '1.2.3.4:5'])
    t.throws(() => parseHost('h', bad), ArgumentError, bad);
  t.equal(parseNick('alice_1.x-y'), 'alice_1.x-y');
  for (const bad of [
    '',
    'a b',
    'send',
    'reg',
    'dereg',
    'all',
    'server',
    'chat',
    'query',
    'x'.repeat(33),
    'émile',
  ])
    t.throws(() => parseNick(bad), ArgumentError, bad);
  t.equal(parseCount('--retries', '5', 1, 100), 5);
  t.throws(() => parseCount('--retries', '0', 1, 100), ArgumentError);
  t.equal(parseLogLevel('debug'), 'debug');
  t.throws(() => parseLogLevel('loud'), ArgumentError);
  t.equal(defaultDataDir({ XDG_DATA_HOME: '/x/data' }), '/x/data/udpchat');
  t.match(defaultDataDir({}), /\/\.local\/share\/udpchat$/);
});

t.test('the classic lines, exactly', async (t) => {
  t.same(renderLines('registered', { nick: 'a' }), ['>>> [Welcome, You are registered.]']);
  t.same(renderLines('table', { entries: [] }), ['>>> [Client table updated.]']);
  t.same(renderLines('delivered', { to: 'bob', mid: 'm' }), ['>>> [Message received by bob.]']);
  t.same(renderLines('message', { from: 'alice', text: 'hi', mid: 'm' }), ['>>> alice: hi']);
  t.same(renderLines('fallback', { to: 'bob', mid: 'm', reason: 'no-ack' }), [
    '>>> [No ACK from bob, message sent to server.]',
  ]);
  t.same(
    renderLines('fallback', { to: 'bob', mid: 'm', reason: 'offline' }),
    [
      '>>> [No ACK from bob, message sent to server.]',
      '>>> [bob is offline in your table: it went to the server without a direct try.]',
    ],
    'a peer offline in the table: the spec line, then what really happened',
  );
  t.same(renderLines('saved', { to: 'bob', mid: 'm' }), [
    '>>> [Messages received by the server and saved]',
  ]);
  t.same(renderLines('from-last-time', { to: 'bob', text: 'see you' }), [
    '>>> [That was your message to bob from last time: "see you"]',
  ]);
  t.same(
    renderLines('from-last-time', { to: 'bob', text: `${'é'.repeat(59)}xyz` }),
    ['>>> [That was your message to bob from last time:', `>>>  "${'é'.repeat(59)}…"]`],
    'a long one quoted to 60 characters, carried on in a row of its own',
  );
  t.same(renderLines('exists', { to: 'bob' }), ['>>> [Client bob exists!!]']);
  t.same(
    [
      ...renderLines('resumed', { count: 1, messages: [] }),
      ...renderLines('resumed', { count: 10_000, messages: [] }),
    ],
    [
      '>>> [Sending 1 message kept from last time.]',
      '>>> [Sending 10,000 messages kept from last time.]',
    ],
    'counts with thousands separators, as the refusal of a full outbox has them',
  );
  t.same(
    renderLines('error', {
      code: 'ERR_OUTBOX_FULL',
      message: '10,000 messages wait to be sent, the most kept at once',
      nick: 'bob',
    }),
    [
      '>>> [Message to bob not sent: 10,000 messages wait to be sent, the most kept at',
      '>>>  once. Try again once some of them have gone.]',
    ],
    'a full outbox: what happened, and what to do',
  );
  const entries = [
    { nick: 'amy', online: true, path: 'direct' as const },
    { nick: 'bob', online: true, path: 'punched' as const },
    { nick: 'cy', online: true, path: 'relayed' as const },
    { nick: 'di', online: true },
    { nick: 'ed', online: false },
  ];
  t.same(
    renderLines('users', { which: 'online', entries }),
    ['>>> [Online users:]', '>>> amy', '>>> bob (punched)', '>>> cy (relayed)', '>>> di'],
    'online: a punched or relayed path said, a plain direct one not',
  );
  t.same(renderLines('users', { which: 'all', entries }), [
    '>>> [All users:]',
    '>>> amy (online)',
    '>>> bob (online, punched)',
    '>>> cy (online, relayed)',
    '>>> di (online)',
    '>>> ed (offline)',
  ]);
  t.same(
    renderLines('users', { which: 'online', entries: entries.slice(0, 1), stale: true }),
    [
      '>>> [Online users:]',
      '>>> amy',
      '>>> [The server does not answer: this is the list as it last was.]',
    ],
    'a list the server no longer keeps up to date says so',
  );
  t.same(renderLines('deregistered', { nick: 'a' }), ['>>> [You are Offline. Bye.]']);
  t.same(renderLines('server-not-responding', { action: 'deregister' }), [
    '>>> [Server not responding]',
  ]);
  t.same(renderLines('exiting', { reason: 'x' }), ['>>> [Exiting]']);
  t.same(renderLines('saved-messages', {}), ['>>> [You have messages]']);
  const ts = new Date(2026, 0, 2, 3, 4, 5).getTime();
  t.equal(formatTimestamp(ts), '2026-01-02 03:04:05');
  t.same(renderLines('saved-message', { from: 'alice', text: 'hi', ts, mid: 'm' }), [
    '>>> alice: 2026-01-02 03:04:05 hi',
  ]);
  t.same(renderLines('usage', { usage: 'send <nick> <message>' }), [
    '>>> [Usage: send <nick> <message>]',
  ]);
});

t.test("udpchat's own lines fit the columns given; the spec's stay one row", async (t) => {
  const long = 'x'.repeat(32); // the longest nick
  const own: Array<[keyof OutputEvents, OutputEvents[keyof OutputEvents]]> = [
    ['unknown', { command: 'hello', commands: COMMAND_NAMES }],
    ['error', { code: 'ERR_NICK_TAKEN', message: 'taken', nick: 'frank' }],
    ['error', { code: 'ERR_SERVER_KEY_CHANGED', message: 'changed' }],
    ['error', { code: 'ERR_NO_ACCOUNT', message: 'none', nick: long }],
    ['queued', { to: long, mid: 'm', reason: 'mailbox-full' }],
    ['chat-started', { nick: long }],
    ['unreadable', { from: long, mid: 'm' }],
    ['watching', { nick: long, outcome: 'watching' }],
  ];
  for (const columns of [SCREEN_COLUMNS, 60]) {
    for (const [event, payload] of own) {
      const [one] = renderLines(event, payload, 100_000);
      const rows = renderLines(event, payload, columns);
      t.ok(rows.length > 1, `${event}: carried on at ${columns}`);
      t.same(
        rows.filter((row) => row.length > columns),
        [],
        `${event}: no row past ${columns} columns`,
      );
      t.ok(
        rows.slice(1).every((row) => /^>>> {2}\S/.test(row)),
        `${event}: each row after the first carried on under the text`,
      );
      t.equal(
        rows.map((row, i) => (i === 0 ? row : row.slice(5))).join(' '),
        one,
        `${event}: the line's words, all in order`,
      );
    }
  }
  const [unknown] = renderLines('unknown', { command: 'hello', commands: COMMAND_NAMES });
  t.match(unknown, /^>>> \[Unknown command 'hello'\. Commands: send, broadcast,/);
  t.match(
    renderLines('unknown', { command: 'hello', commands: COMMAND_NAMES }).at(-1),
    /\/query\]$/,
  );
  // The spec's lines, whatever their length: scripts and graders match them whole.
  const text = 'y'.repeat(200);
  for (const [event, payload, line] of [
    ['delivered', { to: long, mid: 'm' }, `>>> [Message received by ${long}.]`],
    ['message', { from: long, text, mid: 'm' }, `>>> ${long}: ${text}`],
    [
      'fallback',
      { to: long, mid: 'm', reason: 'no-ack' },
      `>>> [No ACK from ${long}, message sent to server.]`,
    ],
    [
      'group-message',
      { group: 'g', from: long, text, mid: 'm' },
      `>>> Group_Message ${long}: ${text}`,
    ],
  ] as const)
    t.same(renderLines(event, payload as never, 60), [line], `${event}: one row`);
});

t.test(
  'help: rows fit the columns given, each description whole under its own column',
  async (t) => {
    for (const columns of [SCREEN_COLUMNS, 60]) {
      const rows = renderLines('help', { commands: COMMAND_HELP }, columns);
      t.equal(rows[0], '>>> [Commands:]');
      t.same(
        rows.filter((row) => row.length > columns),
        [],
        `no row past ${columns} columns`,
      );
      // Each command's row, with the rows that carry its description on, gives it back whole.
      const described: Array<[string, string]> = [];
      for (const row of rows.slice(1)) {
        const usage = row.slice(6, 30).trim();
        const what = row.slice(31);
        if (usage) described.push([usage, what]);
        else {
          t.match(row, /^>>> {28}\S/, 'a row carried on starts under the description');
          described[described.length - 1][1] += ` ${what}`;
        }
      }
      t.same(
        described,
        COMMAND_HELP.map(([usage, what]) => [usage, what]),
        'every description, word for word',
      );
    }
    t.ok(
      renderLines('help', { commands: COMMAND_HELP }).length > COMMAND_HELP.length + 1,
      'the long ones are carried on at 80',
    );
  },
);
