import { getServices } from '@/services';

export const dynamic = 'force-dynamic';

export default async function HomePage() {
  const { config } = await getServices();
  return (
    <main className="page">
      <h1>glm-gateway</h1>
      <p>One OpenAI-compatible endpoint for the whole team. Your own key, your own limits, metered per request.</p>
      <section className="card">
        <h2>Gateway</h2>
        <p>
          Base URL: <code>{config.publicUrl}/v1</code>
        </p>
        <pre>{`curl ${config.publicUrl}/v1/chat/completions \\
  -H "Authorization: Bearer $GLMGW_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model":"glm-4.6","messages":[{"role":"user","content":"Hello"}]}'`}</pre>
      </section>
      {config.clerkConfigured ? (
        <p>
          <a href="/sign-in">Sign in</a> to see your keys and usage.
        </p>
      ) : (
        <section className="card notice" role="status">
          <h2>Sign-in is not configured</h2>
          <p>
            This server has no Clerk keys, so accounts cannot sign in here yet. Operators issue keys with{' '}
            <code>pnpm gw key:issue &lt;user&gt;</code>; set <code>NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY</code> and{' '}
            <code>CLERK_SECRET_KEY</code> to enable sign-in.
          </p>
        </section>
      )}
    </main>
  );
}
