export { webhookDeliverySchema, type WebhookDeliveryDoc } from './model';
export { createProvisioning, profileFromClerk, verifyClerkDelivery, type DeliveryVerification, type Provisioning, type WebhookOutcome } from './service';
