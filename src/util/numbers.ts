// Numbers as a reader takes them in, in lines and messages: counts with thousands separators,
// sizes in MiB.

/** `10,000`, not `10000`. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Bytes in MiB, to a tenth at most: `16 MiB`, `1.5 MiB`. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} MiB`;
}
