// An AbortController whose signal many requests listen to at once.
import { setMaxListeners } from 'node:events';

/**
 * A controller whose signal many requests listen to at once: every punch of a round (up to
 * hundreds in a birthday round), every fragment of a long message's direct try. Each removes its
 * listener when it settles, so the "possible leak" warning past 10 listeners does not apply.
 */
export function sharedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
