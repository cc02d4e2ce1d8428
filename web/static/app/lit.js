// The one door to lit-html: pages import html, render and the directives from here, so that the
// vendored path is written once. lit-html escapes every value it puts in the page; never
// bypass it (no innerHTML of data, no unsafe-html directive).
export { html, render, nothing, svg } from '../vendor/lit-html/lit-html.js';
export { repeat } from '../vendor/lit-html/directives/repeat.js';
export { classMap } from '../vendor/lit-html/directives/class-map.js';
export { ifDefined } from '../vendor/lit-html/directives/if-defined.js';
export { ref, createRef } from '../vendor/lit-html/directives/ref.js';
