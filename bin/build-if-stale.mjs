// At install (`prepare`) and before the tests (`pretest`): builds dist/ only when something
// the build reads is newer than what it wrote last (a stamp written after a whole build marks
// it complete). Then the same for tap's own build: tap comes built with its default plugins,
// and package.json's "tap" config changes them (TypeScript through tsx); a test run rebuilds
// it only after starting, so the first run after an install would load both loaders.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.built';
const TAP_STAMP = 'node_modules/.tap-built';

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** `stamps`: whether to write the stamp once the command succeeded (the build writes its own: bin/bundle.mjs). */
function buildIfStale(stamp, inputs, command, args, stamps) {
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built > 0 && Math.max(...inputs.map(newest)) <= built) return;
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  if (stamps) writeFileSync(stamp, '');
}

buildIfStale(
  STAMP,
  ['src', 'tsconfig.json', 'bin/bundle.mjs', 'package.json', 'package-lock.json'],
  'npm',
  ['run', 'build'],
  false,
);
buildIfStale(TAP_STAMP, ['package.json', 'package-lock.json'], 'npx', ['tap', 'build'], true);
