// Bundles the CLI (dist/cli/main.js, as tsc built it) into dist/bundle/: one file for what
// every start needs, chunks for what only the client, the server or sealing load later.
// Loading one bundled file instead of a few hundred modules is most of the CLI's start-up
// (see docs/benchmarks.md, start-up). The library (dist/index.js) is not bundled.
import { rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

await rm('dist/bundle', { recursive: true, force: true }); // no chunks of an earlier build left over

await build({
  entryPoints: ['dist/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  minify: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // The CommonJS packages inside (yargs, pino) call require: give them Node's.
  banner: {
    js: "import { createRequire as __udpchatRequire } from 'node:module'; const require = __udpchatRequire(import.meta.url);",
  },
});

// The build is complete: bin/build-if-stale.mjs (npm test's pretest) compares against this.
await writeFile('dist/.built', '');
