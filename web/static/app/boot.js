// What the server hands the app in the shell: the language and its messages, which vendored
// libraries are present, the default response target. Read once, never executed.
const el = document.getElementById('vw-boot');

/** @type {{lang: string, languages: {code: string, name: string}[], messages: Record<string, string>,
 *   libraries: Record<string, boolean>, escalate_after_seconds: number, version: string}} */
export const boot = JSON.parse(el ? el.textContent : '{}');
