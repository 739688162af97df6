// The library's public API: the client, the registry, the two stores, the endpoint, identities
// and the error type. The package exports this file only: nothing else under src/ is reachable.
export { ChatClient, type ClientEvents, type SendOutcome } from './client/client.js';
export { CLIENT_DEFAULTS, type ChatClientOptions, type ChatClientParts } from './client/options.js';
export { FileOutbox, MemoryOutbox, type Outbox, type OutboxEntry } from './client/outbox.js';
export { Registry, type RegistryEvents } from './registry/registry.js';
export { REGISTRY_DEFAULTS, type RegistryOptions } from './registry/options.js';
export { LowdbStore } from './store/lowdb-store.js';
export { RedisStore, type RedisStoreOptions } from './store/redis-store.js';
export type { Store, ClientRecord } from './store/store.js';
export { UdpchatError, type UdpchatErrorCode } from './protocol/errors.js';
export { Endpoint, type RequestOptions } from './transport/endpoint.js';
export { generateIdentity, loadOrCreateIdentity, type Identity } from './crypto/identity.js';
