import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// Real packet loss: a network namespace of our own whose loopback drops 20% of UDP datagrams
// (each direction, every datagram). Needs root, ip and iptables; CI=true makes it mandatory.
const scenario = fileURLToPath(new URL('../helpers/loss-scenario.mjs', import.meta.url));
/** The scenario's last line of output. */
interface Verdict {
  sent: number;
  settled: boolean;
  missing: unknown[];
  doubled: unknown[];
  outOfOrder: unknown[];
  withoutOutcome: unknown[];
  withSeveralOutcomes: unknown[];
  failed: number;
  retried: number;
  saved: number;
  deduplicated: number;
}
const have = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const missing = [
  process.getuid?.() === 0 ? undefined : 'root',
  have('ip') ? undefined : 'ip (iproute2)',
  have('iptables') ? undefined : 'iptables',
].filter(Boolean);

if (missing.length > 0 && process.env.CI !== 'true') {
  t.test(
    '20% real packet loss',
    { skip: `needs ${missing.join(', ')} for a network namespace with loss; runs under CI=true` },
    () => undefined,
  );
} else {
  t.test(
    '20% real packet loss: nothing lost, nothing doubled, in order, one outcome each',
    async (t) => {
      t.same(missing, [], 'root, ip and iptables are here (CI=true requires them)');
      const namespace = `udpchat-loss-${process.pid}`;
      const run = (...args: string[]) => {
        const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
        if (result.status !== 0) throw new Error(`${args.join(' ')}: ${result.stderr}`);
        return result.stdout;
      };
      run('ip', 'netns', 'add', namespace);
      t.teardown(() => void spawnSync('ip', ['netns', 'del', namespace]));
      run('ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up');
      run(
        'ip',
        'netns',
        'exec',
        namespace,
        'iptables',
        '-A',
        'INPUT',
        '-p',
        'udp',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        '0.2',
        '-j',
        'DROP',
      );
      const { NODE_OPTIONS: _loaders, ...env } = process.env;
      const result = spawnSync(
        'ip',
        ['netns', 'exec', namespace, process.execPath, scenario, '60'],
        {
          encoding: 'utf8',
          env,
          timeout: 90_000,
        },
      );
      t.equal(result.status, 0, `scenario ran${result.stderr ? `: ${result.stderr}` : ''}`);
      const verdict = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as Verdict;
      t.equal(verdict.sent, 360, '3 clients, 60 messages to each of the others');
      t.equal(verdict.settled, true, 'every message reached its recipient');
      t.same(verdict.missing, [], 'none lost');
      t.same(verdict.doubled, [], 'none shown twice');
      t.same(verdict.outOfOrder, [], 'each sender-to-recipient stream in order');
      t.same(verdict.withoutOutcome, [], 'every send has a final outcome');
      t.same(verdict.withSeveralOutcomes, [], 'and only one');
      t.equal(verdict.failed, 0);
      t.ok(verdict.retried > 50, `the loss was real: ${verdict.retried} retransmissions`);
      t.ok(verdict.saved > 0, `the recipient who left had messages saved (${verdict.saved})`);
      t.ok(verdict.deduplicated > 0, `duplicates were recognised (${verdict.deduplicated})`);
    },
  );
}
