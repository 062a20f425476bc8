import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdownLanguage from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import MarkdownIt from 'markdown-it';

// Only the core plus a few common languages: the full highlight.js bundle would multiply the webview's size.
// Each grammar brings its own aliases (ts, py, sh, html, yml, ...).
hljs.registerLanguage('bash', bash);
hljs.registerLanguage('css', css);
hljs.registerLanguage('go', go);
hljs.registerLanguage('java', java);
hljs.registerLanguage('javascript', javascript);
hljs.registerLanguage('json', json);
hljs.registerLanguage('markdown', markdownLanguage);
hljs.registerLanguage('python', python);
hljs.registerLanguage('rust', rust);
hljs.registerLanguage('sql', sql);
hljs.registerLanguage('typescript', typescript);
hljs.registerLanguage('xml', xml);
hljs.registerLanguage('yaml', yaml);

const markdown = new MarkdownIt({ html: false, linkify: true, highlight: highlightCode });
// The CSP allows no remote resources, so an image would only ever show as broken; `![alt](url)` becomes a link.
markdown.disable('image');

function highlightCode(code: string, lang: string): string {
  const language = lang.trim().toLowerCase();
  if (language !== '' && hljs.getLanguage(language) !== undefined) {
    try {
      return hljs.highlight(code, { language, ignoreIllegals: true }).value;
    } catch {
      // A grammar bug must not cost the user the answer: fall through to plain, escaped text.
    }
  }
  // An empty string tells markdown-it to escape the code itself.
  return '';
}

/**
 * Replaces the children of `target` with `source` rendered as sanitised markdown. Called on every streaming
 * frame, so it renders the whole text again: markdown-it is fast enough for chat-sized answers, and a partial
 * fence or list then always renders the way the finished one will.
 */
export function renderMarkdownInto(target: HTMLElement, source: string): void {
  const html = markdown.render(source);
  // `style` goes too: the CSP blocks inline styles anyway (markdown-it emits them only for table alignment).
  target.replaceChildren(DOMPurify.sanitize(html, { RETURN_DOM_FRAGMENT: true, FORBID_ATTR: ['style'] }));
  addCodeBlockToolbars(target);
}

/** Wraps each code block with its language and the Copy / Insert buttons, which main.ts handles by delegation. */
function addCodeBlockToolbars(container: HTMLElement): void {
  for (const pre of Array.from(container.querySelectorAll('pre'))) {
    const block = document.createElement('div');
    block.className = 'code-block';

    const toolbar = document.createElement('div');
    toolbar.className = 'code-toolbar';
    const label = document.createElement('span');
    label.className = 'code-language';
    label.textContent = languageOf(pre);
    toolbar.append(
      label,
      createCodeButton('copy', 'Copy', 'Copy code to the clipboard'),
      createCodeButton('insert', 'Insert', 'Insert code at the cursor'),
    );

    pre.replaceWith(block);
    block.append(toolbar, pre);
  }
}

function createCodeButton(action: 'copy' | 'insert', label: string, description: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'code-action';
  button.dataset.action = action;
  button.textContent = label;
  button.title = description;
  button.setAttribute('aria-label', description);
  return button;
}

function languageOf(pre: HTMLPreElement): string {
  const code = pre.querySelector('code');
  const match = code?.className.match(/(?:^|\s)language-(\S+)/);
  return match?.[1] ?? '';
}

/** The code a Copy / Insert button stands for, or null when the button is not inside a code block. */
export function codeForButton(button: HTMLElement): string | null {
  const code = button.closest('.code-block')?.querySelector('pre code');
  return code?.textContent ?? null;
}
