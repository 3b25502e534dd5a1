// Building the page from data: every string becomes a text node, never markup.

/** Create `<tag>` with `props` (properties; "class", "for", "role", "data-*", "aria-*" attributes; `on*`
 *  listeners) and `children` (nodes or strings; null, false and undefined are skipped). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "for" || name === "role" || /^(data|aria)-/.test(name)) element.setAttribute(name, value);
    else element[name] = value;
  }
  return fill(element, ...children);
}

/** Replace `element`'s children with `children`, nested arrays flattened, nothing for null/false. */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** A coloured badge saying `text`; `kind` (a request status, "ready", "not-ready") picks the colour. */
export function badge(text, kind = text) {
  return h("span", { class: `badge status-${kind}` }, text);
}

/** A `<dl>` of label → value rows, leaving out rows whose value is null. */
export function facts(rows) {
  return h("dl", { class: "facts" }, rows
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** A table with `headings` and one row of cells per item; `empty` fills it when there are none. */
export function table(headings, rows, empty) {
  const body = rows.length
    ? rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))
    : h("tr", {}, h("td", { colSpan: headings.length, class: "muted" }, empty));
  return h("table", {}, h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, body));
}

/** An error message box, or nothing. */
export function errorBox(message) {
  return message ? h("p", { class: "error", role: "alert" }, message) : null;
}

/** A failed request's error: its type, and its message where the status document has one. */
export function failureBox(error) {
  return h("p", { class: "error", role: "alert" }, h("strong", {}, error.type), error.message ? `: ${error.message}` : null);
}
