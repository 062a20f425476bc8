import { apiError, currentAdmin } from '@/lib/web-api';
import { userSorts, type UserSort } from '@/modules/admin';

export async function GET(req: Request): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const params = new URL(req.url).searchParams;
  const sort = params.get('sort') ?? 'newest';
  if (!userSorts.includes(sort as UserSort)) return apiError(400, 'invalid_request', `sort must be one of ${userSorts.join(', ')}.`);
  return Response.json(await admin.services.admin.listUsers({ query: params.get('query') ?? undefined, cursor: params.get('cursor') ?? undefined, sort: sort as UserSort }));
}
