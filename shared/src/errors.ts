import { z } from 'zod';

/** The error body every `/v1/*` response uses, as OpenAI defines it. */
export const openAIErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string().nullable(),
  }),
});
export type OpenAIError = z.infer<typeof openAIErrorSchema>;

/** The error body of the website's own JSON API (`/api/*` outside the gateway). */
export const apiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
  }),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

/**
 * Every failure the gateway can answer with. The HTTP status and OpenAI `type` follow from the code, so
 * clients can branch on `code` alone.
 */
export const gatewayErrorCodes = {
  missing_api_key: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  account_suspended: { status: 403, type: 'permission_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  content_filtered: { status: 400, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  daily_token_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  upstream_rate_limited: { status: 429, type: 'rate_limit_error' },
  upstream_error: { status: 502, type: 'api_error' },
  upstream_unreachable: { status: 502, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
  service_unavailable: { status: 503, type: 'api_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type GatewayErrorCode = keyof typeof gatewayErrorCodes;

export function openAIError(code: GatewayErrorCode, message: string): OpenAIError {
  return { error: { message, type: gatewayErrorCodes[code].type, code } };
}
