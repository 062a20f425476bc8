import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { apiError } from '@/lib/web-api';

// The server runs from web/ (web/server.ts, npm start), so the contract package sits beside it.
let document: Promise<string> | undefined;

/** The OpenAPI description of the public HTTP API, as committed in shared/openapi.yaml. */
export async function GET(): Promise<Response> {
  document ??= readFile(resolve(process.cwd(), '../shared/openapi.yaml'), 'utf8');
  const text = await document.catch(() => null);
  if (text === null) {
    document = undefined;
    return apiError(404, 'not_found', 'This installation does not ship the OpenAPI document (shared/openapi.yaml).');
  }
  return new Response(text, { headers: { 'content-type': 'application/yaml; charset=utf-8', 'cache-control': 'public, max-age=300' } });
}
