// The dashboard: four hash-routed pages over the public JSON API (`/#/model`,
// `/#/customers`, `/#/customer/ID`, `/#/item/ID`). The API key, if the server has keys,
// is kept in sessionStorage only, so it is gone when the tab closes.

import { hbar, columns, curve, fmt } from "./charts.js";

const KEY = "propensity.api_key";
const page = document.getElementById("page");
const errorBox = document.getElementById("error");

// ---- API ----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** GETs an API path; non-2xx answers become ApiError with the envelope's code and message. */
async function api(path, { accept = "application/json" } = {}) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: accept, ...authHeaders() } });
  } catch (e) {
    throw new ApiError(0, "network", `the server could not be reached (${e.message})`, path);
  }
  if (!res.ok) {
    let code = `http_${res.status}`, message = res.statusText || "request failed";
    try {
      const body = await res.json();
      if (body && body.error) ({ code, message } = body.error);
    } catch (_) { /* not the envelope: keep the status text */ }
    throw new ApiError(res.status, code, message, path);
  }
  return accept === "application/json" ? res.json() : res.text();
}

function showError(e) {
  if (!e) { errorBox.hidden = true; errorBox.replaceChildren(); return; }
  const hint = e.status === 401 ? " Enter an API key above."
    : e.status === 403 ? " This key lacks the scope this page needs (score or recommend)." : "";
  errorBox.replaceChildren(
    h("strong", {}, e.status ? `${e.status} ` : ""), h("code", {}, e.code ?? "error"),
    ` ${e.message}${hint}`, h("span", { class: "muted" }, e.path ? ` (${e.path})` : ""));
  errorBox.hidden = false;
}

// ---- DOM helpers ----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const card = (title, ...body) => h("section", { class: "card" }, h("h2", {}, title), ...body);
const kv = (pairs) => h("dl", { class: "kv" },
  pairs.filter((p) => p).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
const pct = (p) => (Number.isFinite(p) ? `${(p * 100).toFixed(1)}%` : "–");
const money = (v) => (Number.isFinite(v) ? v.toLocaleString(undefined, { maximumFractionDigits: 0 }) : "–");
const enc = encodeURIComponent;

// ---- Page 1: model --------------------------------------------------------------------

/** Metrics `section.metric` next to `section.baseline.NAME.metric`, one row per metric. */
function metricsTable(metrics) {
  const model = {}, baselines = {};
  for (const [k, v] of Object.entries(metrics)) {
    const parts = k.split(".");
    if (parts.includes("calibration")) continue;
    const b = parts.indexOf("baseline");
    if (b > 0 && parts.length === b + 3) {
      const key = `${parts.slice(0, b).join(".")}.${parts[b + 2]}`;
      (baselines[key] ??= []).push(`${parts[b + 1]} ${fmt(v, 4)}`);
    } else {
      model[k] = v;
    }
  }
  const keys = Object.keys(model).sort();
  if (!keys.length) return h("p", { class: "muted" }, "No evaluation metrics in this bundle.");
  return h("table", { id: "metrics" },
    h("thead", {}, h("tr", {}, h("th", {}, "metric"), h("th", { class: "num" }, "model"), h("th", {}, "baselines"))),
    h("tbody", {}, keys.map((k) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, fmt(model[k], 4)),
      h("td", { class: "muted" }, (baselines[k] ?? []).join(" · "))))));
}

async function modelPage() {
  const m = await api("/v1/model");
  const b = m.bundle;
  const metrics = b.metrics ?? {};
  const imp = (b.feature_importance ?? []).filter((f) => f.importance > 0).slice(0, 15);
  const cal = m.churn_calibration;
  const trainSecs = metrics["train.seconds"];
  return [
    h("h1", {}, "Model"),
    h("div", { class: "grid" },
      card("Bundle", kv([
        ["model version", m.model_version],
        ["trained (created)", b.created_at],
        Number.isFinite(trainSecs) ? ["training time", `${trainSecs.toFixed(1)} s`] : null,
        ["data range", b.data_range ? `${b.data_range.first_event_at.slice(0, 10)} – ${b.data_range.last_event_at.slice(0, 10)}` : "–"],
        ["events / customers / items", `${b.events.toLocaleString()} / ${b.customers.toLocaleString()} / ${b.items.toLocaleString()}`],
        ["format / trainer", `v${b.format_version} / ${b.trainer_version}`],
        ["loaded", `${m.loaded_at} (generation ${m.generation})`],
        ["size", `${(b.len_bytes / 1048576).toFixed(2)} MiB`],
      ])),
      card("Evaluation metrics", metricsTable(metrics)),
      card("Feature importance (churn, total gain)",
        imp.length ? h("div", { id: "importance-chart" }, hbar(imp.map((f) => ({ label: f.name, value: f.importance })), { label: "feature importance" }))
          : h("p", { class: "muted" }, "No feature importance in this bundle.")),
      card("Churn calibration (held-out)",
        cal && cal.length
          ? [h("div", { id: "calibration-chart" }, curve([{ points: cal.map((c) => [c.predicted, c.observed, `${c.rows} rows`]) }],
              { label: "calibration curve", xDomain: [0, 1], diagonal: true, xLabel: "predicted churn", yLabel: "observed churn", xFormat: pct, yFormat: pct })),
             h("p", { class: "legend" }, "Mean predicted vs observed churn per bin of out-of-fold predictions; the dashed line is perfect calibration.")]
          : h("p", { class: "muted", id: "calibration-missing" }, "Calibration points: not in this bundle (trained before they were recorded)."))),
  ];
}

// ---- Page 2: customers ----------------------------------------------------------------

const listState = { sort: "value_at_risk", order: "desc", segment: "", min_churn: "0.5", offset: 0, limit: 25 };

function listQuery(extra = {}) {
  const q = new URLSearchParams();
  const s = { ...listState, ...extra };
  for (const k of ["sort", "order", "segment", "min_churn", "offset", "limit", "format"]) {
    if (s[k] !== "" && s[k] !== undefined && s[k] !== null) q.set(k, s[k]);
  }
  return q.toString();
}

async function customersPage() {
  const seg = await api("/v1/segments");
  const table = h("div", { id: "customer-table" });
  const segSelect = h("select", { id: "segment-filter", onchange: (e) => { listState.segment = e.target.value; listState.offset = 0; refresh(); } },
    h("option", { value: "" }, "all segments"),
    seg.segments.map((s) => h("option", { value: s.segment, selected: listState.segment === s.segment }, s.name)));
  const minChurn = h("input", { id: "min-churn", type: "number", min: 0, max: 1, step: 0.05, value: listState.min_churn,
    onchange: (e) => { listState.min_churn = e.target.value; listState.offset = 0; refresh(); } });
  const exportBtn = h("button", { id: "export-csv", type: "button", onclick: exportCsv }, "Export CSV");

  async function refresh() {
    try {
      const l = await api(`/v1/customers?${listQuery()}`);
      showError(null);
      table.replaceChildren(...renderList(l, refresh));
    } catch (e) { showError(e); }
  }
  await refresh();
  const bins = seg.churn_histogram.map((b) => ({ label: `${Math.round(b.from * 100)}`, value: b.customers, cls: b.from >= 0.6 ? "risk" : "" }));
  return [
    h("h1", {}, `Customers (${seg.customers.toLocaleString()} modelled)`),
    h("div", { class: "grid" },
      card("Customers by RFM segment", h("div", { id: "segment-size-chart" }, hbar(seg.segments.map((s) => ({ label: s.name, value: s.customers })), { label: "segment sizes" }))),
      card(`Value by segment (expected spend, ${seg.value_horizon_days} days)`, h("div", { id: "segment-value-chart" },
        hbar(seg.segments.map((s) => ({ label: s.name, value: s.value })), { label: "segment value", cls: "alt", format: (v) => fmt(v) })),
        h("p", { class: "legend" }, "Value at risk (churn × value): ", seg.segments.map((s) => `${s.name} ${fmt(s.value_at_risk)}`).join(" · "))),
      card(`Churn risk distribution (P no purchase in ${seg.horizon_days} days, %)`, h("div", { id: "churn-histogram" },
        columns(bins, { label: "churn histogram", xLabel: "churn probability bin (%)", yLabel: "customers" })))),
    h("section", { class: "card spaced" },
      h("h2", {}, "Highest-value customers at risk"),
      h("div", { class: "toolbar" }, "Segment ", segSelect, " min churn ", minChurn, exportBtn),
      table),
  ];
}

const COLUMNS = [
  ["customer_id", "customer", null],
  ["segment", "segment", null],
  ["churn", "churn", "churn"],
  ["value", "value", "value"],
  ["value_at_risk", "value at risk", "value_at_risk"],
  ["recency_days", "days since last", "recency"],
  ["orders", "orders", "orders"],
  ["last_purchase", "last purchase", null],
];

function renderList(l, refresh) {
  const head = COLUMNS.map(([, title, sort]) => {
    if (!sort) return h("th", {}, title);
    const sorted = listState.sort === sort;
    return h("th", { class: `num sortable${sorted ? " sorted" : ""}`, "data-sort": sort, "data-dir": listState.order === "desc" ? "▼" : "▲",
      onclick: () => {
        listState.order = sorted && listState.order === "desc" ? "asc" : "desc";
        listState.sort = sort; listState.offset = 0; refresh();
      } }, title);
  });
  const rows = l.customers.map((c) => h("tr", {},
    h("td", {}, h("a", { href: `#/customer/${enc(c.customer_id)}` }, c.customer_id)),
    h("td", {}, c.segment.replaceAll("_", " ")),
    h("td", { class: `num band-${c.risk_band}` }, pct(c.churn)),
    h("td", { class: "num" }, money(c.value)),
    h("td", { class: "num" }, money(c.value_at_risk)),
    h("td", { class: "num" }, Number.isFinite(c.recency_days) ? c.recency_days.toFixed(0) : "–"),
    h("td", { class: "num" }, c.orders),
    h("td", {}, c.last_purchase)));
  const last = Math.min(l.total, l.offset + l.customers.length);
  const pager = h("div", { class: "toolbar" },
    h("button", { type: "button", id: "prev-page", disabled: l.offset === 0, onclick: () => { listState.offset = Math.max(0, l.offset - l.limit); refresh(); } }, "‹ Prev"),
    h("span", { id: "page-info" }, l.total ? `${l.offset + 1}–${last} of ${l.total.toLocaleString()}` : "no customers match"),
    h("button", { type: "button", id: "next-page", disabled: last >= l.total, onclick: () => { listState.offset = l.offset + l.limit; refresh(); } }, "Next ›"));
  return [h("table", {}, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)), pager];
}

async function exportCsv() {
  try {
    const text = await api(`/v1/customers?${listQuery({ offset: "", limit: "", format: "csv" })}`, { accept: "text/csv" });
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const a = h("a", { href: url, download: "customers-at-risk.csv" });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (e) { showError(e); }
}

// ---- Page 3: customer lookup -----------------------------------------------------------

function lookupForm(id, placeholder, route) {
  return h("form", { class: "toolbar", id: `${route}-form`, onsubmit: (e) => {
    e.preventDefault();
    const v = e.target.querySelector("input").value.trim();
    if (v) location.hash = `#/${route}/${enc(v)}`;
  } }, h("input", { id: `${route}-id`, name: "id", placeholder, value: id ?? "", size: 28 }), h("button", { type: "submit" }, "Look up"));
}

async function customerPage(id) {
  const out = [h("h1", {}, "Customer lookup"), lookupForm(id, "customer id, e.g. c000123", "customer")];
  if (!id) return out;
  const p = enc(id);
  const [profile, churn, next, recs] = await Promise.all([
    api(`/v1/customers/${p}`), api(`/v1/customers/${p}/churn?explain=true`),
    api(`/v1/customers/${p}/next-purchase`), api(`/v1/customers/${p}/recommendations?k=10`)]);
  const factors = churn.factors ?? [];
  out.push(h("div", { class: "grid", id: "customer-result" },
    card("Churn risk",
      h("div", { class: `big band-${churn.risk_band}`, id: "churn-probability" }, pct(churn.churn_probability)),
      h("p", {}, `${churn.risk_band} risk of no purchase in the next ${churn.horizon_days} days`),
      h("table", { id: "churn-factors" }, h("tbody", {}, factors.map((f) => h("tr", {},
        h("td", { class: f.impact > 0 ? "band-high" : "band-low" }, f.impact > 0 ? "▲ raises" : "▼ lowers"),
        h("td", {}, f.text), h("td", { class: "num muted" }, fmt(f.impact, 2))))))),
    card("Profile", kv([
      ["customer", profile.customer_id],
      ["segment", `${profile.rfm.segment} (RFM ${profile.rfm.score})`],
      ["orders / spend", `${profile.orders} / ${money(profile.spend)}`],
      ["first / last purchase", `${profile.first_purchase.slice(0, 10)} / ${profile.last_purchase.slice(0, 10)}`],
      ["days since last", profile.recency_days.toFixed(0)],
      ["P(alive)", pct(profile.value.p_alive)],
      ["expected orders (365 d)", fmt(profile.value.expected_orders_365d)],
      ["expected order value", money(profile.value.expected_order_value)],
      ["value (365 d)", money(profile.value.value_365d)],
      ["as of", profile.as_of.slice(0, 10)],
    ])),
    card("Next purchase",
      h("p", {}, "Predicted date: ", h("strong", { id: "next-purchase-date" }, next.predicted_date ?? "not within the modelled horizons"),
        ` · expected purchases in ${next.expected_purchases_horizon_days} days: ${fmt(next.expected_purchases)}`,
        next.predicted_purchases == null ? null
          : h("span", {}, " (forecast: ", h("strong", { id: "predicted-purchases" }, String(next.predicted_purchases)), ")")),
      h("div", { id: "next-purchase-chart" }, curve([{ points: next.probabilities.map((x) => [x.days, x.probability]) }],
        { label: "P(purchase within d days)", xDomain: [0, Math.max(...next.probabilities.map((x) => x.days))], xTicks: next.probabilities.map((x) => x.days), xLabel: "days", yLabel: "P(purchase within d days)", yFormat: pct })),
      next.likely_items.length ? h("p", { class: "legend" }, "Likely to buy again: ", next.likely_items.map((i) => i.item_id).join(", ")) : null),
    card(recs.cold_start ? "Recommendations (cold start)" : "Recommendations",
      h("table", { id: "recommendations" }, h("thead", {}, h("tr", {}, h("th", {}, "item"), h("th", {}, "source"), h("th", {}, "category"), h("th", { class: "num" }, "score"))),
        h("tbody", {}, recs.items.map((r) => h("tr", {},
          h("td", {}, h("a", { href: `#/item/${enc(r.item_id)}` }, r.item_id)), h("td", {}, r.source.replaceAll("_", " ")),
          h("td", {}, r.category ?? ""), h("td", { class: "num" }, fmt(r.score)))))))));
  return out;
}

// ---- Page 4: item lookup ---------------------------------------------------------------

async function itemPage(id) {
  const out = [h("h1", {}, "Item lookup"), lookupForm(id, "item id", "item")];
  if (!id) return out;
  const r = await api(`/v1/items/${enc(id)}/similar?k=15`);
  if (!r.items.length) {
    out.push(card(`Bought together with / similar to ${id}`, h("p", { class: "muted" }, "No similar items for this item.")));
    return out;
  }
  out.push(h("div", { class: "grid" },
    card(`Bought together with / similar to ${id}`,
      h("div", { id: "similar-chart" }, hbar(r.items.map((i) => ({ label: i.item_id, value: i.score })), { label: "similar items" }))),
    card("Details",
      h("table", { id: "similar-items" }, h("thead", {}, h("tr", {}, h("th", {}, "item"), h("th", {}, "source"), h("th", {}, "category"), h("th", { class: "num" }, "score"))),
        h("tbody", {}, r.items.map((i) => h("tr", {}, h("td", {}, h("a", { href: `#/item/${enc(i.item_id)}` }, i.item_id)),
          h("td", {}, i.source.replaceAll("_", " ")), h("td", {}, i.category ?? ""), h("td", { class: "num" }, fmt(i.score)))))))));
  return out;
}

// ---- Router and key form ---------------------------------------------------------------

const ROUTES = { model: modelPage, customers: customersPage, customer: customerPage, item: itemPage };

async function route() {
  const [, name = "model", ...rest] = location.hash.replace(/^#/, "").split("/");
  const render = ROUTES[name] ?? modelPage;
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === name);
  showError(null);
  page.setAttribute("aria-busy", "true");
  try {
    page.replaceChildren(...(await render(arg)));
  } catch (e) {
    showError(e);
    if (name === "customer" || name === "item") page.replaceChildren(h("h1", {}, name === "item" ? "Item lookup" : "Customer lookup"), lookupForm(arg, "id", name));
    else page.replaceChildren(h("p", { class: "muted" }, "This page could not be loaded."));
  } finally {
    page.setAttribute("aria-busy", "false");
    page.dataset.route = name;
  }
}

function updateKeyState() {
  document.getElementById("key-state").textContent = sessionStorage.getItem(KEY) ? "key set for this tab" : "no key (open server)";
}

document.getElementById("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("key-input");
  if (input.value.trim()) sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  updateKeyState();
  route();
});
document.getElementById("key-clear").addEventListener("click", () => { sessionStorage.removeItem(KEY); updateKeyState(); route(); });
window.addEventListener("hashchange", route);
updateKeyState();
route();
