// Bundles the CLI (dist/cli/main.js, as tsc built it) into CommonJS files that bin/udpchat runs
// through V8's code cache (bin/code-cache.cjs): dist/bundle/udpchat.cjs, the whole CLI, and
// dist/bundle/client.cjs, the same without the registry, for a client's start. Loading one
// bundled file instead of a few hundred modules is most of the CLI's start-up; CommonJS is what
// node:vm compiles with a cache on Node 20 (an ES module it cannot), and compiling the file
// again at every start is the rest (docs/benchmarks.md, start-up). The library
// (dist/index.js) is not bundled.
import { rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

await rm('dist/bundle', { recursive: true, force: true }); // nothing of an earlier build left over

const common = {
  entryPoints: ['dist/cli/main.js'],
  bundle: true,
  minify: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // import() of what is not bundled (node:dns, for a host name) as require(): node:vm runs the
  // bundle as a script, and one compiled from the code cache (every run after the first) has
  // no loader for an import(): it failed with "A dynamic import callback was not specified".
  supported: { 'dynamic-import': false },
  // Every character outside ASCII escaped: bin/code-cache.cjs reads the file as Latin-1, faster.
  charset: 'ascii',
  logLevel: 'warning',
  // The ES modules inside (ours, yargs') ask import.meta for their own URL: the bundle's.
  define: { 'import.meta': '__udpchatImportMeta' },
  banner: {
    js: "const __udpchatImportMeta = { url: require('node:url').pathToFileURL(__filename).href };",
  },
};

/**
 * The registry left out (its store clients, rate limits and metrics are half of the whole): a
 * client's start reads and compiles less. main refuses -s beside -c, so with -c on the command
 * line (bin/udpchat picks this bundle then) the registry is never started.
 */
const withoutRegistry = {
  name: 'without-registry',
  setup(build) {
    build.onResolve({ filter: /\/run-server\.js$/ }, () => ({
      path: 'run-server',
      namespace: 'left-out',
    }));
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({
      contents:
        "export function runServer() { throw new Error('the client bundle runs no registry: run udpchat -s without -c'); }",
      loader: 'js',
    }));
  },
};

await build({ ...common, outfile: 'dist/bundle/udpchat.cjs' });
await build({ ...common, outfile: 'dist/bundle/client.cjs', plugins: [withoutRegistry] });

// The build is complete: bin/build-if-stale.mjs (npm test's pretest) compares against this.
await writeFile('dist/.built', '');
