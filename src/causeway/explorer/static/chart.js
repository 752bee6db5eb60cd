// A small SVG line chart (no library): points as [x label, y value].

const SVG = "http://www.w3.org/2000/svg";

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function lineChart(points, { width = 640, height = 180, label = "" } = {}) {
  const margin = { left: 44, right: 12, top: 14, bottom: 26 };
  const svg = element("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  const innerWidth = width - margin.left - margin.right;
  const innerHeight = height - margin.top - margin.bottom;
  const values = points.map(([, value]) => value);
  const top = Math.max(1, ...values);
  svg.append(element("line", { x1: margin.left, y1: margin.top + innerHeight, x2: width - margin.right, y2: margin.top + innerHeight, class: "axis" }));
  svg.append(element("line", { x1: margin.left, y1: margin.top, x2: margin.left, y2: margin.top + innerHeight, class: "axis" }));
  svg.append(element("text", { x: margin.left - 6, y: margin.top + 4, "text-anchor": "end", class: "tick" }, top.toFixed(top < 10 ? 1 : 0)));
  svg.append(element("text", { x: margin.left - 6, y: margin.top + innerHeight, "text-anchor": "end", class: "tick" }, "0"));
  if (points.length === 0) {
    svg.append(element("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "tick" }, "no blocks yet"));
    return svg;
  }
  const step = points.length > 1 ? innerWidth / (points.length - 1) : 0;
  const coordinates = points.map(([, value], index) => [
    margin.left + index * step,
    margin.top + innerHeight - (value / top) * innerHeight,
  ]);
  svg.append(element("polyline", { points: coordinates.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "), class: "series" }));
  coordinates.forEach(([x, y], index) => {
    const dot = element("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5, class: "point" });
    dot.append(element("title", {}, `${points[index][0]}: ${points[index][1].toFixed(2)}`));
    svg.append(dot);
  });
  svg.append(element("text", { x: margin.left, y: height - 6, class: "tick" }, points[0][0]));
  svg.append(element("text", { x: width - margin.right, y: height - 6, "text-anchor": "end", class: "tick" }, points[points.length - 1][0]));
  return svg;
}
