// The one limiter udpchat uses, by its own path (see src/util/rate-limiter.ts): the package
// declares its types for its entry point only.
declare module 'rate-limiter-flexible/lib/RateLimiterMemory.js' {
  import { RateLimiterMemory } from 'rate-limiter-flexible';
  export default RateLimiterMemory;
}
