export { createRateLimiter, type LimitDecision, type LimitSubject, type RateLimiter } from './service';
