/**
 * Adds `code` and `state` to the extension's callback. Desktop VS Code hands us its own `vscode://` URI, whose
 * query reaches the extension directly. code-server (and other web hosts) hand us an http URL that carries
 * the original URI in `vscode-scheme`/`vscode-authority`/`vscode-path`/`vscode-query` parameters: there,
 * only what is inside `vscode-query` reaches the extension, so our parameters go in there.
 */
export function withCallbackParams(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  const forwarded = url.searchParams.has('vscode-scheme') || url.searchParams.has('vscode-authority');
  if (!forwarded) {
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }
  const inner = new URLSearchParams(url.searchParams.get('vscode-query') ?? '');
  for (const [k, v] of Object.entries(params)) inner.set(k, v);
  url.searchParams.set('vscode-query', inner.toString());
  return url.toString();
}

/** Where the approval sends the browser, as a person should read it before approving. */
export function describeRedirect(redirectUri: string): string {
  const url = new URL(redirectUri);
  const scheme = url.searchParams.get('vscode-scheme');
  if (scheme) return `${scheme} (through ${url.host})`;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : url.protocol.replace(/:$/, '');
}
