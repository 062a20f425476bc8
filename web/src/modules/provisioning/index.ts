export { webhookDeliverySchema, type WebhookDeliveryDoc } from './model';
