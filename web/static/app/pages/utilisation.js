// Placeholder: not built yet. Replace this module with the page (see docs/web.md).
import { placeholder } from './notbuilt.js';

export function mount(root) {
  placeholder(root, 'nav.utilisation');
}
