import { Schema } from 'mongoose';

/** A webhook delivery we have handled, by its svix id: a redelivery finds itself here and does nothing. */
export interface WebhookDeliveryDoc {
  _id: string;
  type: string;
  receivedAt: Date;
}

export const webhookDeliverySchema = new Schema<WebhookDeliveryDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    receivedAt: { type: Date, required: true, index: true },
  },
  { collection: 'webhook_deliveries', versionKey: false },
);
