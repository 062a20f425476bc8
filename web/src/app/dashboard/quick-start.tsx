/** How to use the gateway: the base URL, curl, the OpenAI SDK, and the VS Code extension. */
export function QuickStart({ baseUrl }: { baseUrl: string }) {
  return (
    <section className="card" aria-labelledby="quick-start-title">
      <h2 id="quick-start-title">Quick start</h2>
      <p>
        Base URL: <code>{baseUrl}</code> — any OpenAI-compatible client works with it and one of your keys.
      </p>
      <h3>curl</h3>
      <pre>{`curl ${baseUrl}/chat/completions \\
  -H "Authorization: Bearer $GLMGW_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model":"glm-4.6","stream":true,"messages":[{"role":"user","content":"Hello"}]}'`}</pre>
      <h3>OpenAI SDK (TypeScript)</h3>
      <pre>{`import OpenAI from 'openai';
const client = new OpenAI({ baseURL: '${baseUrl}', apiKey: process.env.GLMGW_KEY });
const answer = await client.chat.completions.create({
  model: 'glm-4.6',
  messages: [{ role: 'user', content: 'Hello' }],
});`}</pre>
      <h3>VS Code</h3>
      <ol>
        <li>Install the GLM Gateway extension (a <code>.vsix</code> from your operator: Extensions → … → Install from VSIX).</li>
        <li>Run <strong>GLM Gateway: Sign In</strong> from the command palette and approve the device on this site.</li>
        <li>Open the GLM Gateway view in the activity bar and start chatting.</li>
      </ol>
    </section>
  );
}
