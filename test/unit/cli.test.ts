import t from 'tap';
import { ArgumentError, defaultDataDir, parseCount, parseHost, parseLogLevel, parseNick, parsePort } from '../../src/cli/args.js';
import { parseCommand } from '../../src/cli/commands.js';
import { formatTimestamp, renderLines } from '../../src/cli/render.js';

t.test('commands', async (t) => {
  t.same(parseCommand('send bob hi there  you'), { kind: 'send', to: 'bob', text: 'hi there  you' });
  t.same(parseCommand('  send   bob   hi  '), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(parseCommand('/msg bob hi'), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(parseCommand('send bob'), { kind: 'send', to: 'bob', text: '' }, 'empty text: the client says "empty"');
  t.same(parseCommand('send'), { kind: 'usage', usage: 'send <nick> <message>' });
  t.same(parseCommand('dereg alice'), { kind: 'dereg', nick: 'alice' });
  t.same(parseCommand('dereg'), { kind: 'usage', usage: 'dereg <nick>' });
  t.same(parseCommand('dereg alice bob'), { kind: 'usage', usage: 'dereg <nick>' });
  t.same(parseCommand('reg alice'), { kind: 'reg', nick: 'alice' });
  t.same(parseCommand('help'), { kind: 'help' });
  t.same(parseCommand('help me'), { kind: 'usage', usage: 'help' });
  for (const quit of ['quit', 'exit', '/exit', '/quit']) t.same(parseCommand(quit), { kind: 'quit' }, quit);
  t.same(parseCommand('   '), { kind: 'empty' });
  t.same(parseCommand('Send bob Hi'), { kind: 'send', to: 'bob', text: 'Hi' }, 'commands are case-insensitive; the text is kept as typed');
  t.same(parseCommand('QUIT'), { kind: 'quit' });
  t.same(parseCommand('/MSG bob hi'), { kind: 'send', to: 'bob', text: 'hi' });
  t.same(parseCommand('/msg'), { kind: 'usage', usage: '/msg <nick> <message>' }, "an alias's usage names the alias");
  t.same(parseCommand('/join'), { kind: 'usage', usage: '/join <group>' });
  t.same(parseCommand('constructor'), { kind: 'unknown', command: 'constructor' }, 'no name from the object prototype');
  t.same(parseCommand('hello everyone'), { kind: 'unknown', command: 'hello' });
});

t.test('arguments', async (t) => {
  t.equal(parsePort('port', '1024'), 1024);
  t.equal(parsePort('port', '65535'), 65535);
  for (const bad of ['1023', '65536', 'abc', '12.5', '', '-1', '0x50']) t.throws(() => parsePort('the port', bad), ArgumentError, bad);
  t.throws(() => parsePort('the client port', '99999'), { message: "the client port must be a port number from 1024 to 65535, not '99999'" });
  for (const good of ['127.0.0.1', '::1', 'localhost', 'chat.example.org', 'fe80::1']) t.equal(parseHost('h', good), good);
  for (const bad of ['', 'a b', '-bad', 'x'.repeat(300), '1.2.3.4:5']) t.throws(() => parseHost('h', bad), ArgumentError, bad);
  t.equal(parseNick('alice_1.x-y'), 'alice_1.x-y');
  for (const bad of ['', 'a b', 'send', 'reg', 'dereg', 'all', 'server', 'x'.repeat(33), 'émile']) t.throws(() => parseNick(bad), ArgumentError, bad);
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
  t.same(renderLines('fallback', { to: 'bob', mid: 'm', reason: 'no-ack' }), ['>>> [No ACK from bob, message sent to server.]']);
  t.same(renderLines('saved', { to: 'bob', mid: 'm' }), ['>>> [Messages received by the server and saved]']);
  t.same(renderLines('exists', { to: 'bob' }), ['>>> [Client bob exists!!]']);
  t.same(renderLines('deregistered', { nick: 'a' }), ['>>> [You are Offline. Bye.]']);
  t.same(renderLines('server-not-responding', { action: 'deregister' }), ['>>> [Server not responding]']);
  t.same(renderLines('exiting', { reason: 'x' }), ['>>> [Exiting]']);
  t.same(renderLines('saved-messages', {}), ['>>> [You have messages]']);
  const ts = new Date(2026, 0, 2, 3, 4, 5).getTime();
  t.equal(formatTimestamp(ts), '2026-01-02 03:04:05');
  t.same(renderLines('saved-message', { from: 'alice', text: 'hi', ts, mid: 'm' }), ['>>> alice: 2026-01-02 03:04:05 hi']);
  t.same(renderLines('usage', { usage: 'send <nick> <message>' }), ['>>> [Usage: send <nick> <message>]']);
});
