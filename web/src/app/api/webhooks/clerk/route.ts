import { apiError, readText } from '@/lib/web-api';
import { verifyClerkDelivery } from '@/modules/provisioning';
import { getServices } from '@/services';

/** Clerk's user events are a few kilobytes; a megabyte leaves room for many addresses and metadata. */
const MAX_DELIVERY_BYTES = 1024 * 1024;

/** Clerk's svix-signed deliveries: verified over the raw body first, then applied idempotently. */
export async function POST(req: Request): Promise<Response> {
  const services = await getServices();
  const secret = services.config.CLERK_WEBHOOK_SIGNING_SECRET;
  if (!secret || !services.provisioning) return apiError(503, 'webhooks_not_configured', 'CLERK_WEBHOOK_SIGNING_SECRET is not set on this server.');
  const body = await readText(req, MAX_DELIVERY_BYTES);
  if (!body.ok) return body.response;
  const delivery = verifyClerkDelivery(secret, body.text, req.headers);
  if (!delivery.ok) return apiError(400, 'invalid_signature', delivery.message);
  const outcome = await services.provisioning.handleClerkWebhook(delivery.id, delivery.payload);
  if (!outcome.ok) return apiError(400, outcome.reason, outcome.message);
  return Response.json({ received: true, result: outcome.result });
}
