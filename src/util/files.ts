// Small files written whole: to a temporary file beside the target, which then takes its place
// (a rename), so a crash mid-write leaves the old contents rather than a torn file; and reading
// one that may not be there yet.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';

/** `path` replaced by `contents` in one step; `mode` for a file made anew. */
export async function replaceFile(path: string, contents: string, mode?: number): Promise<void> {
  const temporary = temporaryFor(path);
  await writeFile(temporary, contents, mode === undefined ? {} : { mode });
  await rename(temporary, path);
}

/** As `replaceFile`, done when it returns. */
export function replaceFileSync(path: string, contents: string, mode?: number): void {
  const temporary = temporaryFor(path);
  writeFileSync(temporary, contents, mode === undefined ? {} : { mode });
  renameSync(temporary, path);
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
