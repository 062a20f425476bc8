export { createRateLimiter, type LimitDecision, type LimitSubject, type RateLimiter, type TokenHold } from './service';
