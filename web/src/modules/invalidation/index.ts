export { createInvalidation, type Invalidation, type InvalidationEvent, type InvalidationKind } from './service';
