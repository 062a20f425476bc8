import { SignUp } from '@clerk/nextjs';
import { getServices } from '@/services';

export const dynamic = 'force-dynamic';

export default async function SignUpPage() {
  const { config } = await getServices();
  if (!config.clerkConfigured) return <main className="page"><p role="status">Sign-in is not configured on this server.</p></main>;
  return <main className="page centered"><SignUp signInUrl="/sign-in" fallbackRedirectUrl="/dashboard" /></main>;
}
