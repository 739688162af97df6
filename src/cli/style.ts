// How a line is dressed on a terminal: nick colours, the bell, time stamps. On a pipe or with
// --json nothing is added, so scripts read the same lines as the spec.
import { styleText } from 'node:util';

/** How lines are dressed on a terminal; on a pipe or with --json, never. */
export interface LineStyle {
  /** Nicks in their colour, errors red, status lines dimmed (off with --no-color or NO_COLOR). */
  colour: boolean;
  /** `HH:MM ` before every line but saved messages, which carry their own time (--timestamps). */
  timestamps: boolean;
  /** The terminal's bell with each incoming private message, not broadcasts (--bell). */
  bell: boolean;
}

export const PLAIN: LineStyle = { colour: false, timestamps: false, bell: false };

/** Colour on when the output is a terminal, --no-color was not given and NO_COLOR is unset or empty. */
export function wantsColour(
  terminal: boolean,
  noColorFlag: boolean,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return terminal && !noColorFlag && !env.NO_COLOR;
}

const NICK_COLOURS = ['cyan', 'green', 'yellow', 'blue', 'magenta', 'redBright'] as const;

/** The colour a nick is always shown in, picked by a hash of the nick. */
export function nickColour(nick: string): (typeof NICK_COLOURS)[number] {
  let hash = 0;
  for (let i = 0; i < nick.length; i++) hash = (hash * 31 + nick.charCodeAt(i)) >>> 0;
  return NICK_COLOURS[hash % NICK_COLOURS.length];
}

/** Where the sender's nick starts in a message line: after `>>> `, a group's `(g) ` and `Group_Message `. */
const SENDER_AT = /^>>> (?:\([^)]*\) )?(?:Group_Message )?/;

/** Whether to colour is decided here (LineStyle), not by node:util from the environment. */
const RAW = { validateStream: false };

/** A status line's row: its first (`>>> [`), or one a long line is carried on in (`>>>  `). */
const STATUS = /^>>> (?:\([^)]*\) )?(?:\[| (?! ))/;

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * One rendered line (already made visible) dressed for a terminal. The text stays the line's
 * own: colour and the bell are escapes around it, and a time stamp goes before `>>> `.
 */
export function dress(
  line: string,
  event: string,
  payload: object,
  style: LineStyle,
  now: Date = new Date(),
): string {
  const { from: sender, all } = payload as { from?: unknown; all?: unknown };
  const from = typeof sender === 'string' ? sender : undefined;
  let out = line;
  if (style.colour) {
    const at = SENDER_AT.exec(line)?.[0].length ?? -1;
    if (event === 'error') out = styleText('red', line, RAW);
    else if (STATUS.test(line)) out = styleText('dim', line, RAW);
    else if (from !== undefined && at >= 0 && line.startsWith(from, at)) {
      out =
        line.slice(0, at) +
        styleText(['bold', nickColour(from)], from, RAW) +
        line.slice(at + from.length);
    }
  }
  if (style.timestamps && event !== 'saved-message')
    out = `${pad(now.getHours())}:${pad(now.getMinutes())} ${out}`;
  if (style.bell && event === 'message' && !all) out = `\u0007${out}`;
  return out;
}
