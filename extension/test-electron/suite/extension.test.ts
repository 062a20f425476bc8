import assert from 'node:assert/strict';
import * as vscode from 'vscode';

export function extensionSuite(): void {
  describe('GLM Gateway in desktop VS Code', () => {
    it('activates and registers its commands', async () => {
      const ext = vscode.extensions.getExtension('glm-gateway.extension');
      assert.ok(ext, 'extension is installed');
      await ext.activate();
      const commands = await vscode.commands.getCommands(true);
      for (const id of ['glmGateway.signIn', 'glmGateway.signInWithKey', 'glmGateway.signOut', 'glmGateway.newChat']) assert.ok(commands.includes(id), id);
    });

    it('opens the chat view', async () => {
      await vscode.commands.executeCommand('glmGateway.chat.focus');
    });

    it('offers itself as an authentication provider with no session before sign-in', async () => {
      const session = await vscode.authentication.getSession('glm-gateway', [], { createIfNone: false, silent: true });
      assert.equal(session, undefined);
    });
  });
}
