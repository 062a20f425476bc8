import * as vscode from 'vscode';

const MAX_FILE_CHARS = 60_000;

/** The selection and/or current file, as a fenced block placed before the question. */
export function editorContext(includeSelection: boolean, includeFile: boolean): string {
  const editor = vscode.window.activeTextEditor;
  if (!editor || (!includeSelection && !includeFile)) return '';
  const doc = editor.document;
  const name = vscode.workspace.asRelativePath(doc.uri);
  const parts: string[] = [];
  if (includeSelection && !editor.selection.isEmpty) {
    parts.push(`Selected code from ${name}:\n\`\`\`${doc.languageId}\n${doc.getText(editor.selection)}\n\`\`\``);
  }
  if (includeFile) {
    const text = doc.getText();
    const clipped = text.length > MAX_FILE_CHARS ? `${text.slice(0, MAX_FILE_CHARS)}\n… (truncated)` : text;
    parts.push(`Current file ${name}:\n\`\`\`${doc.languageId}\n${clipped}\n\`\`\``);
  }
  return parts.length ? `${parts.join('\n\n')}\n\n` : '';
}
