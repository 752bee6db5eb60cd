// A few helpers to build the pages' DOM without a framework (text is always set as text, never
// parsed as HTML: what the chain holds cannot inject markup).

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function link(href, text, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}

export function table(columns, rows, attributes = {}) {
  return h(
    "table",
    attributes,
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", {}, column)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
  );
}

export function definitions(pairs, attributes = {}) {
  return h("dl", { class: "fields", ...attributes }, pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function shortHex(hex, length = 16) {
  return hex.length > length ? `${hex.slice(0, length)}…` : hex;
}

export function timeText(milliseconds) {
  const value = Number(milliseconds);
  return value ? new Date(value).toISOString().replace("T", " ").replace(".000Z", "Z") : "";
}
