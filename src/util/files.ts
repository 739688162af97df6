// Small files written whole: to a temporary file beside the target, which then takes its place
// (a rename), so a crash mid-write leaves the old contents rather than a torn file; and reading
// one that may not be there yet. A file that must outlive a power cut (a private key, a pinned
// key) is written `durable`: the temporary file is fsynced before it takes the name, and the
// folder after, so the name and the bytes under it reach the disk together.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** How a file is written: `mode` for a file made anew; `durable`, on disk when the call returns. */
export interface WriteOptions {
  mode?: number;
  durable?: boolean;
}

/** `path` replaced by `contents` in one step. */
export async function replaceFile(
  path: string,
  contents: string,
  options: WriteOptions = {},
): Promise<void> {
  const temporary = temporaryFor(path);
  if (options.durable) await writeFileSynced(temporary, contents, options.mode, 'w');
  else
    await writeFile(temporary, contents, options.mode === undefined ? {} : { mode: options.mode });
  await rename(temporary, path);
  if (options.durable) await syncFolder(dirname(path));
}

/** As `replaceFile`, done when it returns. */
export function replaceFileSync(path: string, contents: string, options: WriteOptions = {}): void {
  const temporary = temporaryFor(path);
  const fd = openSync(temporary, 'w', options.mode ?? 0o666);
  try {
    writeFileSync(fd, contents);
    if (options.durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  if (options.durable) syncFolderSync(dirname(path));
}

/**
 * `contents` written to `path` (`flag` 'wx' for a file that must not exist yet, 'w' to replace
 * one) and fsynced: on disk when it returns. Its name is on disk once its folder is synced too
 * (`syncFolder`).
 */
export async function writeFileSynced(
  path: string,
  contents: string,
  mode: number | undefined,
  flag: 'w' | 'wx',
): Promise<void> {
  const file = await open(path, flag, mode ?? 0o666);
  try {
    await file.writeFile(contents);
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * The folder's entries on disk (fsync of the folder): a file made, renamed or linked in it
 * survives a power cut. A file system that cannot sync a folder is left as it is.
 */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync().catch(unsyncable);
  } finally {
    await handle.close();
  }
}

/**
 * `folder` made if it is not there, private (0700), with any folder on the way; with `durable`,
 * each folder made is on disk: it is synced, and so is each folder above it up to the parent of
 * the first one made, which holds the new names.
 */
export async function makeFolder(
  folder: string,
  options: { durable?: boolean } = {},
): Promise<void> {
  const made = await mkdir(folder, { recursive: true, mode: 0o700 });
  if (!options.durable || made === undefined) return;
  await syncFolder(folder);
  // mkdir gives `made` as it was asked (relative or not): both resolved alike.
  const top = dirname(resolve(made));
  for (let at = resolve(folder); at !== top && dirname(at) !== at;) {
    at = dirname(at);
    await syncFolder(at);
  }
}

function syncFolderSync(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } catch (error) {
    unsyncable(error);
  } finally {
    closeSync(fd);
  }
}

/** A folder's fsync refused as not supported (EINVAL, EISDIR, ENOTSUP on some file systems): nothing more to do. */
function unsyncable(error: unknown): void {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ENOTSUP') throw error;
}

/** The file's text; undefined when there is no such file (any other failure is thrown). */
export function readIfThere(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(absent);
}

/** As `readIfThere`, done when it returns. */
export function readIfThereSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return absent(error);
  }
}

/** A read's failure: undefined when the file is not there, else thrown again. */
function absent(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  return undefined;
}

/** One per process, so two processes writing one file never share a temporary. */
const temporaryFor = (path: string): string => `${path}.${process.pid}.tmp`;
