export { checkHealth, type Health } from './service';
