// rate-limiter-flexible's entry point loads every limiter it has (Redis, Mongo, SQL, etcd…);
// udpchat uses the in-memory one, loaded alone here so a client's start does not pay for the
// rest (docs/benchmarks.md, start-up).
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory.js';

export { RateLimiterMemory };
