// Figure 10, a crowd of real clients: CROWD client binaries (`bin/udpchat -c`, human output on
// a pipe) started one after another against a registry binary, in classic mode (fewer nicks
// than the table limit: every client holds the whole table and hears of every change). Each is
// timed from spawn to its welcome line, with all those before it still running; once all run,
// each is asked `online` and must list every nick. Baseline: the first client's spawn → welcome
// (nobody else running), from the same run.
import { join } from 'node:path';
import {
  BIN,
  clientArgs,
  emit,
  failure,
  freeUdpPort,
  log,
  nowMs,
  size,
  spawnLines,
  startRegistryBinary,
  summarize,
  tempDir,
  within,
} from './lib/common.mjs';

const CROWD = Number(process.env.BENCH_CROWD ?? size(100, 8));

/**
 * Starts one client binary and waits for its welcome. The port is picked free just before (a
 * socket bound and closed), so another process may take it in between: a start that fails
 * only because its port was taken is made again on another, and timed from then.
 */
async function startClient(nick, host, serverPort, dir) {
  for (let attempt = 1; ; attempt++) {
    const port = await freeUdpPort(host);
    const startedAt = nowMs();
    const client = spawnLines(
      BIN,
      clientArgs({ nick, serverPort, port, host, dataDir: join(dir, 'data') }),
    );
    try {
      const welcome = await client.waitFor(
        (line) => line.includes('[Welcome, You are registered.]'),
        30_000,
      );
      return { client, welcome, startedAt };
    } catch (error) {
      if (attempt < 3 && /already in use/.test(client.stderr())) continue;
      const lines = client
        .clear()
        .map((entry) => entry.line)
        .join(' | ');
      await client.stop('SIGKILL');
      throw new Error(`${nick}: ${error.message} ${lines}`);
    }
  }
}

async function crowd() {
  const scratch = await tempDir();
  const { server, serverPort } = await startRegistryBinary(scratch.dir);
  const clients = [];
  try {
    const welcomeMs = [];
    const tableMs = [];
    const started = nowMs();
    for (let i = 0; i < CROWD; i++) {
      // The registry admits at most 30 new nicks in any 6 s from everyone (admission.ts): one start every 220 ms at most.
      const due = started + i * 220;
      if (nowMs() < due) await new Promise((resolve) => setTimeout(resolve, due - nowMs()));
      const nick = `c${String(i).padStart(3, '0')}`;
      // 25 clients per loopback address, as from so many hosts: the registry admits 30 new nicks a minute from one address.
      const host = `127.0.0.${2 + Math.floor(i / 25)}`;
      const {
        client,
        welcome,
        startedAt: start,
      } = await startClient(nick, host, serverPort, scratch.dir);
      clients.push({ nick, client });
      const table = await client.waitFor(
        (line) => line.includes('[Client table updated.]'),
        30_000,
      );
      welcomeMs.push(welcome.at - start);
      tableMs.push(table.at - start);
    }
    // Every table complete: each client lists every nick online (asked again for a while, as
    // the last changes may still be on their way).
    let complete = 0;
    const askedAt = nowMs();
    for (const { client } of clients) {
      for (;;) {
        client.clear();
        client.write('online\n');
        await client.waitFor((line) => line === '>>> [Online users:]', 10_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const listed = client.clear().filter((entry) => /^>>> c\d{3}$/.test(entry.line)).length;
        if (listed === CROWD) {
          complete++;
          break;
        }
        if (nowMs() - askedAt > 30_000) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    return {
      crowd: CROWD,
      firstWelcomeMs: welcomeMs[0],
      welcomeMs: summarize(welcomeMs.slice(1)),
      lastTenWelcomeMs: summarize(welcomeMs.slice(-10)),
      tableMs: summarize(tableMs.slice(1)),
      tablesComplete: complete,
    };
  } finally {
    await Promise.all(
      clients.map(
        ({ client }) => (
          client.child.stdin.end(),
          within(client.exited, 10_000, 'exit').catch(() => client.stop('SIGKILL'))
        ),
      ),
    );
    await server.stop('SIGTERM');
    await scratch.remove();
  }
}

const result = { bench: 'crowd' };
try {
  Object.assign(result, await crowd());
  log(
    `crowd of ${CROWD}: spawn → welcome p50 ${result.welcomeMs.p50} ms (last ten ${result.lastTenWelcomeMs.p50} ms), ${result.tablesComplete} tables complete`,
  );
} catch (error) {
  result.error = failure(error);
}
emit(result);
process.exit(0);
