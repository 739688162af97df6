// Before the tests: builds only when something the build reads is newer than what it wrote
// last (`npm install` and `npm ci` already build, through `prepare`). A stamp written after a
// whole build marks it complete.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.built';

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const inputs = ['src', 'tsconfig.json', 'bin/bundle.mjs', 'package.json', 'package-lock.json'];
const built = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (built === 0 || Math.max(...inputs.map(newest)) > built) {
  const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
