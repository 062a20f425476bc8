import type { ServerResponse } from 'node:http';
import { gatewayErrorCodes, openAIError, type GatewayErrorCode } from '@glm-gateway/shared';

/** An expected failure on the way to the upstream, carried as a value until the edge answers it. */
export interface GatewayFailure {
  code: GatewayErrorCode;
  message: string;
  retryAfterSec?: number;
}

export function fail(code: GatewayErrorCode, message: string, retryAfterSec?: number): GatewayFailure {
  return retryAfterSec === undefined ? { code, message } : { code, message, retryAfterSec };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendFailure(res: ServerResponse, f: GatewayFailure, requestId: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (f.retryAfterSec !== undefined) headers['retry-after'] = String(f.retryAfterSec);
  if (f.code === 'missing_api_key' || f.code === 'invalid_api_key') headers['www-authenticate'] = 'Bearer realm="glm-gateway"';
  sendJson(res, gatewayErrorCodes[f.code].status, openAIError(f.code, f.message), headers);
}

/** The one error event a broken stream ends with, in OpenAI's shape. */
export function sseErrorEvent(f: GatewayFailure): string {
  return `data: ${JSON.stringify(openAIError(f.code, f.message))}\n\n`;
}
