// The error vocabulary: every string code udpchat raises (listed in docs/protocol.md) and the one
// error class that carries it, so callers match on a code rather than on message text.
import { wireErrorName, type WireErrorName } from './constants.js';

/** String codes of every error udpchat raises; see docs/protocol.md. */
export type UdpchatErrorCode =
  | `ERR_${WireErrorName}`
  | 'ERR_TIMEOUT'
  | 'ERR_CLOSED'
  | 'ERR_EMPTY_MESSAGE'
  | 'ERR_CONTROL_CHARACTER'
  | 'ERR_SELF_MESSAGE'
  | 'ERR_OUTBOX_FULL'
  | 'ERR_NOT_ONLINE'
  | 'ERR_IN_GROUP'
  | 'ERR_NOT_HERE'
  | 'ERR_SERVER_KEY_CHANGED'
  | 'ERR_INVALID_GROUP'
  | 'ERR_NOT_YOURSELF'
  | 'ERR_PORT_IN_USE'
  | 'ERR_REMOTE';

export class UdpchatError extends Error {
  readonly code: UdpchatErrorCode;

  constructor(code: UdpchatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UdpchatError';
    this.code = code;
  }

  /** The error a peer reported in an `err` reply. */
  static fromWire(code: number, message: string): UdpchatError {
    const name = wireErrorName(code);
    return new UdpchatError(name ? `ERR_${name}` : 'ERR_REMOTE', message);
  }
}

export function isUdpchatError(error: unknown, code?: UdpchatErrorCode): error is UdpchatError {
  return error instanceof UdpchatError && (code === undefined || error.code === code);
}
