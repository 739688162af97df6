// Runs a CommonJS file (the CLI's bundle) through V8's code cache: what an earlier run compiled
// of it is read back instead of being parsed and compiled again, which is a tenth of the CLI's
// start-up (docs/benchmarks.md, start-up). Node 22 does this itself (module.enableCompileCache);
// on Node 20 node:vm's cachedData is the way.
//
// The cache is one file per copy of udpchat (the bundle's path), Node version and purpose (a
// client, a server, anything else: each calls its own functions) in the user's cache folder
// ($XDG_CACHE_HOME/udpchat, else ~/.cache/udpchat, private to the user). It is written,
// atomically, when a run exits that found none or found it rejected. A cache starts with the
// SHA-256 of the source it was made from, and is read only for that source: V8's own check
// compares the source's length alone, so a build that changed a `!0` into a `!1` ran the
// compiled code of the build before. V8 then checks that the cache was made by the same V8
// with the same flags. Without a usable folder the file runs uncached. UDPCHAT_CODE_CACHE=0
// turns it off.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const vm = require('node:vm');
const { createHash } = require('node:crypto');
const { createRequire, wrap } = require('node:module');

/** The folder of the cache, or undefined when there is none to use. */
function cacheFolder() {
  if (process.env.UDPCHAT_CODE_CACHE === '0') return undefined;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.isAbsolute(base) ? path.join(base, 'udpchat') : undefined;
}

/** The first line of a cache: its format and the SHA-256 of the source it was made from. */
function headerFor(source) {
  const digest = createHash('sha256').update(source, 'latin1').digest('hex');
  return Buffer.from(`udpchat code cache 2 ${digest}\n`, 'latin1');
}

/**
 * The compiled code in `file`, if it was made from the source `header` names, and the file is
 * this user's and writable by no one else: it is code, run at every start (a file another user
 * could have written or swapped in is not read, and is replaced).
 */
function readCache(file, header) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const stat = fs.fstatSync(fd);
    const mine = typeof process.getuid !== 'function' || stat.uid === process.getuid();
    if (!mine || (stat.mode & 0o022) !== 0) return undefined;
    const cache = fs.readFileSync(fd);
    const made = cache.subarray(0, header.length);
    return made.equals(header) ? cache.subarray(header.length) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(folder, file, header, data) {
  try {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}`;
    fs.writeFileSync(temporary, Buffer.concat([header, data]), { mode: 0o600 });
    fs.renameSync(temporary, file);
  } catch {
    // No cache this time: the next run compiles the file again.
  }
}

/**
 * Eight hex digits that tell one path from another (FNV-1a): two copies of udpchat on one
 * machine (a checkout and a global install, two versions) each keep a cache of their own, where
 * one name for both had each run refuse the other's cache and write its own over it.
 */
function pathTag(file) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < file.length; i++) hash = Math.imul(hash ^ file.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** Runs `file` (CommonJS) as its module, compiled from the cache `purpose` names when one fits. */
function runCached(file, purpose) {
  const folder = cacheFolder();
  const tags = [pathTag(file), purpose, process.version, process.arch];
  const name = `${path.basename(file)}-${tags.join('-')}.cache`;
  const cacheFile = folder && path.join(folder, name);
  // Latin-1: the bundle is ASCII (bin/bundle.mjs), and a one-byte string is read faster.
  const source = fs.readFileSync(file, 'latin1');
  const header = cacheFile && headerFor(source);
  const cachedData = cacheFile && readCache(cacheFile, header);
  // No import() in it (bin/bundle.mjs): compiled from a cache, a script has no loader for one.
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    // At exit, the cache holds what this run compiled (the functions it called), not only the top level.
    process.once('exit', () => writeCache(folder, cacheFile, header, script.createCachedData()));
  }
  const module = { exports: {}, filename: file, id: file, loaded: false };
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
}

module.exports = { runCached };
