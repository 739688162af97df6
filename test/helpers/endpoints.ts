import type { Test } from 'tap';
import { Endpoint, type EndpointOptions } from '../../src/transport/endpoint.js';

/** Bare endpoints on 127.0.0.1, port 0, closed at teardown: the transport with nothing above it. */
export async function endpoints(
  t: Test,
  count: number,
  options: EndpointOptions = {},
): Promise<Endpoint[]> {
  const made: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = new Endpoint(options);
    await endpoint.listen(0, '127.0.0.1');
    made.push(endpoint);
  }
  t.teardown(() => Promise.all(made.map((endpoint) => endpoint.close())));
  return made;
}
