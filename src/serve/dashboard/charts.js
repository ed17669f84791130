// Hand-written SVG charts: horizontal bars, a histogram and line/point curves. Every data
// mark carries a class (`bar`, `point`) so tests can count what was drawn.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(width, height, label) {
  return el("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}

/** Compact number: 1234 -> "1.23k", 0.1234 -> "0.123". */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toPrecision(digits) + "M";
  if (a >= 1e3) return (v / 1e3).toPrecision(digits) + "k";
  if (a === 0) return "0";
  return Number(v.toPrecision(digits)).toString();
}

/** Horizontal bar chart of [{label, value, title?}]. */
export function hbar(data, { label = "bar chart", format = fmt, cls = "" } = {}) {
  const rowH = 22, labelW = 170, valueW = 60, width = 520;
  const height = Math.max(1, data.length) * rowH + 8;
  const s = svg(width, height, label);
  const max = Math.max(0, ...data.map((d) => (Number.isFinite(d.value) ? d.value : 0))) || 1;
  const plotW = width - labelW - valueW;
  data.forEach((d, i) => {
    const y = 4 + i * rowH;
    const v = Number.isFinite(d.value) ? Math.max(0, d.value) : 0;
    s.append(el("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, d.label));
    const bar = el("rect", { class: `bar ${cls}`.trim(), x: labelW, y: y + 3, height: rowH - 6,
      width: Math.max(1, (v / max) * plotW), "data-value": d.value });
    bar.append(el("title", {}, `${d.label}: ${d.title ?? format(d.value)}`));
    s.append(bar);
    s.append(el("text", { x: labelW + (v / max) * plotW + 4, y: y + 14 }, format(d.value)));
  });
  return s;
}

function axes(s, box, xTicks, yTicks, xLabel, yLabel) {
  const { x0, y0, x1, y1 } = box;
  for (const t of yTicks) {
    s.append(el("line", { class: "grid-line", x1: x0, x2: x1, y1: t.y, y2: t.y }));
    s.append(el("text", { x: x0 - 4, y: t.y + 4, "text-anchor": "end" }, t.label));
  }
  for (const t of xTicks) {
    s.append(el("text", { x: t.x, y: y0 + 14, "text-anchor": "middle" }, t.label));
  }
  s.append(el("line", { class: "axis", x1: x0, x2: x1, y1: y0, y2: y0 }));
  s.append(el("line", { class: "axis", x1: x0, x2: x0, y1: y0, y2: y1 }));
  if (xLabel) s.append(el("text", { x: (x0 + x1) / 2, y: y0 + 30, "text-anchor": "middle" }, xLabel));
  if (yLabel) s.append(el("text", { x: 12, y: (y0 + y1) / 2, transform: `rotate(-90 12 ${(y0 + y1) / 2})`, "text-anchor": "middle" }, yLabel));
}

/** Vertical bars of [{label, value}] (a histogram when the labels are bins). */
export function columns(data, { label = "histogram", xLabel = "", yLabel = "", cls = "" } = {}) {
  const width = 520, height = 240;
  const box = { x0: 48, y0: height - 40, x1: width - 10, y1: 10 };
  const s = svg(width, height, label);
  const max = Math.max(0, ...data.map((d) => d.value)) || 1;
  const step = (box.x1 - box.x0) / Math.max(1, data.length);
  const y = (v) => box.y0 - (v / max) * (box.y0 - box.y1);
  const yTicks = [0, 0.5, 1].map((f) => ({ y: y(f * max), label: fmt(f * max, 2) }));
  const xTicks = data.map((d, i) => ({ x: box.x0 + (i + 0.5) * step, label: d.label }));
  axes(s, box, xTicks, yTicks, xLabel, yLabel);
  data.forEach((d, i) => {
    const r = el("rect", { class: `bar ${d.cls ?? cls}`.trim(), x: box.x0 + i * step + 2, y: y(d.value),
      width: Math.max(1, step - 4), height: Math.max(0, box.y0 - y(d.value)), "data-value": d.value });
    r.append(el("title", {}, `${d.label}: ${d.value}`));
    s.append(r);
  });
  return s;
}

/** Line chart: series [{points: [[x, y]], cls}] over fixed domains, with dots and an
 *  optional y = x diagonal (calibration). */
export function curve(series, { label = "curve", xDomain, yDomain = [0, 1], diagonal = false,
  xTicks, xLabel = "", yLabel = "", xFormat = fmt, yFormat = fmt } = {}) {
  const width = 520, height = 280;
  const box = { x0: 52, y0: height - 42, x1: width - 14, y1: 12 };
  const s = svg(width, height, label);
  const all = series.flatMap((se) => se.points);
  const [xa, xb] = xDomain ?? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [ya, yb] = yDomain;
  const x = (v) => box.x0 + ((v - xa) / (xb - xa || 1)) * (box.x1 - box.x0);
  const y = (v) => box.y0 - ((v - ya) / (yb - ya || 1)) * (box.y0 - box.y1);
  const ticks = (a, b) => [0, 0.25, 0.5, 0.75, 1].map((f) => a + f * (b - a));
  axes(s, box, (xTicks ?? ticks(xa, xb)).map((v) => ({ x: x(v), label: xFormat(v) })),
    ticks(ya, yb).map((v) => ({ y: y(v), label: yFormat(v) })), xLabel, yLabel);
  if (diagonal) s.append(el("line", { class: "diagonal", x1: x(xa), y1: y(ya), x2: x(xb), y2: y(yb) }));
  for (const se of series) {
    const pts = se.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length > 1) {
      s.append(el("path", { class: `line ${se.cls ?? ""}`.trim(),
        d: pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("") }));
    }
    for (const p of pts) {
      const c = el("circle", { class: "point", cx: x(p[0]), cy: y(p[1]), r: 3.5 });
      c.append(el("title", {}, `${xFormat(p[0])}: ${yFormat(p[1])}${p[2] ? ` (${p[2]})` : ""}`));
      s.append(c);
    }
  }
  return s;
}
