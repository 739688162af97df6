// What reaches a terminal from the network, made visible instead of obeyed: a peer's text, nick
// or group name must not retitle the window, clear the screen, move the cursor, erase the
// sender's name or reorder the line. C0 controls (but tab) and DEL are shown in caret notation
// (`^[`, `^M`, `^?`); C1 controls, bidirectional overrides and isolates, and line or paragraph
// separators as `\u202e`-style escapes.

const UNSAFE =
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as one line of JSON that a terminal shows rather than obeys, for `--json`, which may
 * be read on a screen too: JSON.stringify escapes C0 controls, and this escapes the other
 * characters `visible` shows (DEL, C1, bidirectional controls, separators) as `\uXXXX` as well.
 * Parsed, it is the same value.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (char) => `\\u${hex4(char)}`);
}

const hex4 = (char: string): string => char.charCodeAt(0).toString(16).padStart(4, '0');

export function visible(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
    if (code === 0x7f) return '^?';
    return `\\u${hex4(char)}`;
  });
}
