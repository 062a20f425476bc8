import { checkHealth } from '@/modules/health';
import { getServices } from '@/services';

export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  const health = await checkHealth(await getServices());
  return Response.json(health, { status: health.database === 'up' ? 200 : 503, headers: { 'cache-control': 'no-store' } });
}
