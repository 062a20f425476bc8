import { apiError } from '@/lib/web-api';

/** An unknown path under /api answers in the API's error shape, not with the website's HTML 404 page. */
function unknownPath(): Response {
  return apiError(404, 'not_found', 'No such API path. The API is described at /api/openapi.yaml.');
}

export { unknownPath as DELETE, unknownPath as GET, unknownPath as PATCH, unknownPath as POST, unknownPath as PUT };
