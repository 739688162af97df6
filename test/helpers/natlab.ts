import { spawnSync } from 'node:child_process';
import type { Test } from 'tap';

/**
 * A NAT lab in network namespaces (needs root, ip and iptables). An "internet" namespace
 * holds the registry's address (198.18.0.1, on its loopback) and routes between sites; each
 * site is either one host on a public address (`none`), or a router namespace with a NAT and
 * hosts behind it, each on a LAN of its own (10.<site>.<host>.0/24):
 *
 * - `consistent`: MASQUERADE (one mapping per local address whatever the destination), with
 *   port-restricted filtering: from the WAN only ESTABLISHED,RELATED pass; NEW is dropped in
 *   FORWARD and in INPUT (without the INPUT drop the router's own unreplied conntrack entry
 *   takes the port, and MASQUERADE remaps the host's flow).
 * - `symmetric`: the same with `MASQUERADE --random-fully` (a new port per destination).
 * - `cone`: a static DNAT of every UDP port to the one host (a full cone), MASQUERADE out.
 *
 * The internet's routes carry `src 198.18.0.1`, so replies leave from the address that was
 * asked (else a router sees them as NEW and drops them). Namespace names carry the pid and a
 * counter, so test files running at once never collide; everything is removed at teardown,
 * also after a failed test.
 */
export type NatKind = 'none' | 'cone' | 'consistent' | 'symmetric';

export const REGISTRY_IP = '198.18.0.1';

/** What the lab needs that is not here, or nothing. */
export function natlabMissing(): string[] {
  const have = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
  return [
    process.getuid?.() === 0 ? undefined : 'root',
    have('ip') ? undefined : 'ip (iproute2)',
    have('iptables') ? undefined : 'iptables',
  ].filter((missing): missing is string => missing !== undefined);
}

let labs = 0;

export interface Site {
  nat: NatKind;
  /** Hosts behind its router (one for `none` and `cone`). */
  hosts: string[];
}

export interface Lab {
  /** The namespace of the internet (where the registry runs). */
  internet: string;
  /** The namespace of each host, by its name. */
  hosts: Record<string, string>;
  /** The router namespace of each site with a NAT, by the name of its first host. */
  routers: Record<string, string>;
  /** Runs a command in a namespace (throws on failure). */
  exec(namespace: string, ...args: string[]): string;
  /** The command that runs a program in `namespace`. */
  wrapper(namespace: string): string[];
  /** Drops (`on`) or lets through again what comes to a router from the internet: its paths die. */
  cut(router: string, on: boolean): void;
}

function run(...args: string[]): string {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')}: ${result.stderr || result.error}`);
  return result.stdout;
}

/** Builds the lab; `t.teardown` removes it. */
export function createLab(t: Test, sites: Site[]): Lab {
  const prefix = `uc${process.pid}-${++labs}`;
  const made: string[] = [];
  t.teardown(() => {
    for (const namespace of made.reverse()) spawnSync('ip', ['netns', 'del', namespace]);
  });
  const namespace = (name: string) => {
    const full = `${prefix}-${name}`;
    run('ip', 'netns', 'add', full);
    made.push(full);
    run('ip', '-n', full, 'link', 'set', 'lo', 'up');
    return full;
  };
  const exec = (ns: string, ...args: string[]) => run('ip', 'netns', 'exec', ns, ...args);
  const forwarding = (ns: string) => exec(ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward');
  /** A veth pair between two namespaces, addressed and up. */
  const link = (
    a: string,
    aName: string,
    aAddress: string,
    b: string,
    bName: string,
    bAddress: string,
  ) => {
    run('ip', '-n', a, 'link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', b);
    run('ip', '-n', a, 'addr', 'add', aAddress, 'dev', aName);
    run('ip', '-n', b, 'addr', 'add', bAddress, 'dev', bName);
    run('ip', '-n', a, 'link', 'set', aName, 'up');
    run('ip', '-n', b, 'link', 'set', bName, 'up');
  };

  const internet = namespace('inet');
  run('ip', '-n', internet, 'addr', 'add', `${REGISTRY_IP}/32`, 'dev', 'lo');
  forwarding(internet);
  const hosts: Record<string, string> = {};
  const routers: Record<string, string> = {};

  sites.forEach((site, index) => {
    const k = index + 1;
    const wanNet = `198.18.${k}`;
    // The site's WAN side: the host itself (no NAT) or its router.
    const wan = namespace(site.nat === 'none' ? site.hosts[0] : `r${k}`);
    link(internet, `i${k}`, `${wanNet}.1/24`, wan, 'wan0', `${wanNet}.2/24`);
    // Replies from the internet leave from the registry's address, whatever the route's device has.
    run(
      'ip',
      '-n',
      internet,
      'route',
      'replace',
      `${wanNet}.0/24`,
      'dev',
      `i${k}`,
      'src',
      REGISTRY_IP,
    );
    run('ip', '-n', wan, 'route', 'add', 'default', 'via', `${wanNet}.1`);
    if (site.nat === 'none') {
      hosts[site.hosts[0]] = wan;
      return;
    }
    routers[site.hosts[0]] = wan;
    forwarding(wan);
    site.hosts.forEach((host, j) => {
      const lan = `10.${k}.${j + 1}`;
      const ns = namespace(host);
      hosts[host] = ns;
      link(wan, `lan${j}`, `${lan}.1/24`, ns, 'eth0', `${lan}.2/24`);
      run('ip', '-n', ns, 'route', 'add', 'default', 'via', `${lan}.1`);
    });
    const rules = () => {
      const ipt = (...args: string[]) => exec(wan, 'iptables', ...args);
      if (site.nat === 'cone') {
        ipt(
          '-t',
          'nat',
          '-A',
          'PREROUTING',
          '-i',
          'wan0',
          '-p',
          'udp',
          '-j',
          'DNAT',
          '--to-destination',
          `10.${k}.1.2`,
        );
        ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE');
        return;
      }
      ipt(
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-o',
        'wan0',
        '-j',
        'MASQUERADE',
        ...(site.nat === 'symmetric' ? ['--random-fully'] : []),
      );
      ipt(
        '-A',
        'FORWARD',
        '-i',
        'wan0',
        '-m',
        'conntrack',
        '--ctstate',
        'ESTABLISHED,RELATED',
        '-j',
        'ACCEPT',
      );
      ipt('-A', 'FORWARD', '-i', 'wan0', '-j', 'DROP');
      ipt('-A', 'INPUT', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP');
    };
    rules();
  });

  return {
    internet,
    hosts,
    routers,
    exec,
    wrapper: (ns) => ['ip', 'netns', 'exec', ns],
    cut: (router, on) => {
      exec(
        router,
        'iptables',
        on ? '-I' : '-D',
        'FORWARD',
        '-i',
        'wan0',
        '-p',
        'udp',
        '!',
        '-s',
        REGISTRY_IP,
        '-j',
        'DROP',
      );
    },
  };
}
