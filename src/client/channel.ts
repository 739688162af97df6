// The part of the transport the client's modules ask things through: a request that resolves
// with its reply (or rejects: `ERR_TIMEOUT`, `ERR_CLOSED`, an error the other side answered),
// and fresh message ids. The `Endpoint` is one; unit tests hand in a fake.
import type { Endpoint } from '../transport/endpoint.js';

export type RequestChannel = Pick<Endpoint, 'request' | 'newId'>;
