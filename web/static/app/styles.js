// Each area of the app keeps its own style sheet in css/<area>.css beside the shared app.css,
// so that pages built side by side do not edit one file. A page calls useStyles('patients')
// when it mounts; the sheet is linked once and stays (the CSP allows style sheets from the
// origin, not inline styles).
const linked = new Set();

/** Links css/<area>.css into the document, once. */
export function useStyles(area) {
  if (linked.has(area)) return;
  linked.add(area);
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL(`./css/${area}.css`, import.meta.url).pathname;
  document.head.append(link);
}
