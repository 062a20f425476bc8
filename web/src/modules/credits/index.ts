export { createCredits, type CreditGrantDoc, type Credits } from './service';
