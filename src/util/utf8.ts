// Bytes to text, refusing anything that is not UTF-8 (a sealed message, a password, a datagram).

/**
 * One decoder for the process: making a TextDecoder costs about 20 times what decoding a
 * message's text with it does, and a decode without `stream` keeps no state between calls.
 */
const strict = new TextDecoder('utf-8', { fatal: true });

/** The text `bytes` hold; throws a TypeError when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  return strict.decode(bytes);
}
