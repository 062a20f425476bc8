import { tokenRequestSchema } from '@glm-gateway/shared';
import { apiError, readBody } from '@/lib/web-api';
import { getServices } from '@/services';

/** One-time code + PKCE verifier → a gateway key for the extension. */
export async function POST(req: Request): Promise<Response> {
  const body = await readBody(req, tokenRequestSchema);
  if (!body.ok) return body.response;
  const { extensionAuth } = await getServices();
  const result = await extensionAuth.exchange(body.value.code, body.value.codeVerifier);
  if (!result.ok) return apiError(400, 'invalid_grant', result.message);
  return Response.json(result.token, { headers: { 'cache-control': 'no-store' } });
}
