// What a client may send as a message's text.
import { MAX_TEXT_BYTES } from '../protocol/constants.js';
import { UdpchatError } from '../protocol/errors.js';
import { CONTROL_CHARACTER, encodedTextBytes } from '../protocol/fields.js';

/** Why `text` cannot be sent (empty, a control character, too long), or undefined. */
export function textProblem(text: string): UdpchatError | undefined {
  if (text.trim() === '') return new UdpchatError('ERR_EMPTY_MESSAGE', 'empty message');
  if (CONTROL_CHARACTER.test(text))
    return new UdpchatError(
      'ERR_CONTROL_CHARACTER',
      'a message may hold no control character but tab',
    );
  if (encodedTextBytes(text) > MAX_TEXT_BYTES) {
    return new UdpchatError('ERR_TEXT_TOO_LONG', `a message is at most ${MAX_TEXT_BYTES} bytes`);
  }
  return undefined;
}
