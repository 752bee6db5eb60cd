// The directory's pages: a hash router over search, resource, register / revise and requests.
// Reads go to the CKAN Action API and the directory's JSON API; text from the server is always
// set as text (dom.js's h() never parses HTML). The explorer's modules check proofs.

import { h, definitions, table, timeText } from "./explorer/dom.js";
import { equalBytes, fromBase64, fromHex } from "./explorer/bytes.js";
import { verifyStateEntry } from "./explorer/verify.js";
import { ApiError, ckan, directory, node, setToken, token } from "./api.js";
import { currentLanguage, label, localName, setLanguage, t } from "./i18n.js";

const ROWS_DEFAULT = 10;
const ROWS_MAX = 100;
const FACETS = ["organization", "district", "groups", "sharing_type", "res_format", "update_cycle"];
const SHARING_TYPES = ["unconditional", "conditional", "not_shared"];
const CYCLES = ["real_time", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"];
const FORMATS = ["database", "file", "api", "other"];
const ITEM_TYPES = new Set(["string", "integer", "decimal", "date", "datetime", "boolean", "binary"]);

const main = document.getElementById("main");
const errorBox = document.getElementById("error");
let session = null;
let lookups = null;

// ------------------------------------------------------------------ errors

function showError(error) {
  const type = error instanceof ApiError ? error.type : "network";
  const detail = error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
  const fieldLines = error instanceof ApiError
    ? Object.entries(error.fields || {}).map(([name, messages]) => `${name}: ${[].concat(messages).join("; ")}`)
    : [];
  errorBox.replaceChildren(
    h("strong", { id: "error-title" }, label("error", type)),
    h("span", { class: "detail", id: "error-detail" }, t("errorDetail"), detail),
    ...fieldLines.map((line) => h("span", { class: "detail" }, line)),
  );
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
}

async function guarded(work) {
  clearError();
  try {
    return await work();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

// ------------------------------------------------------------------ lookups and session

async function loadLookups() {
  if (!lookups) {
    const [departments, categories] = await Promise.all([directory("departments"), directory("categories")]);
    lookups = {
      departments: new Map(departments.map((item) => [item.code, item])),
      categories: new Map(categories.map((item) => [item.code, item])),
    };
  }
  return lookups;
}

// The signed-in department (null when signed out); false when the token was refused (the
// refusal is shown).
async function loadSession() {
  session = null;
  let accepted = true;
  if (token()) {
    try {
      session = await directory("session");
    } catch (error) {
      setToken("");
      showError(error);
      accepted = false;
    }
  }
  renderHeader();
  return accepted;
}

function renderHeader() {
  document.getElementById("site-title").textContent = t("title");
  document.title = t("title");
  document.getElementById("language").textContent = t("switchLanguage");
  document.getElementById("nav").replaceChildren(
    h("a", { href: "#/search", id: "nav-search" }, t("search")),
    h("a", { href: "#/register", id: "nav-register" }, t("register")),
    h("a", { href: "#/requests", id: "nav-requests" }, t("requests")),
    ...(session && session.administrator ? [h("a", { href: "#/escalated", id: "nav-escalated" }, t("escalatedNav"))] : []),
  );
  const account = document.getElementById("account");
  if (session) {
    // An administrator's token may act for no department.
    const who = session.department ? `${localName(session.department)} (${session.department.code})` : t("administrators");
    const role = session.administrator && session.department ? ` · ${t("administrator")}` : "";
    account.replaceChildren(
      h("span", { id: "signed-in" }, `${t("signedInAs")}: ${who}${role} · ${session.member}`),
      h("button", { type: "button", id: "sign-out", onclick: () => { setToken(""); session = null; renderHeader(); route(); } }, t("signOut")),
    );
  } else {
    const input = h("input", { id: "token", type: "password", placeholder: t("token"), autocomplete: "off" });
    account.replaceChildren(
      h("form", { id: "sign-in", onsubmit: async (event) => {
        event.preventDefault();
        setToken(input.value.trim());
        if (await loadSession()) route();
      } }, input, h("button", { type: "submit", id: "sign-in-button" }, t("signIn"))),
    );
  }
}

// ------------------------------------------------------------------ search

function parseHash() {
  const hash = location.hash.replace(/^#/, "") || "/search";
  const [path, query = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

let rows = ROWS_DEFAULT;

function searchHash(q, filters, page) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  for (const [field, value] of filters) params.append("f", `${field}:${value}`);
  if (page > 1) params.set("page", String(page));
  if (rows !== ROWS_DEFAULT) params.set("rows", String(rows));
  return `#/search?${params}`;
}

function quoted(value) {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function facetValueLabel(field, item) {
  const { departments, categories } = lookups;
  if (field === "organization") return localName(departments.get(item.name.toUpperCase())) || item.display_name;
  if (field === "groups") return localName(categories.get(item.name.replace(/^category-/, ""))) || item.display_name;
  if (field === "sharing_type") return label("sharing", item.name);
  if (field === "update_cycle") return label("cycle", item.name);
  if (field === "district") return item.name || t("cityLevel");
  return item.display_name || item.name;
}

async function searchPage(params) {
  await loadLookups();
  const q = params.get("q") || "";
  const page = Math.max(1, Math.floor(Number(params.get("page") || 1)) || 1);
  rows = Math.min(ROWS_MAX, Math.max(1, Math.floor(Number(params.get("rows") || ROWS_DEFAULT)) || ROWS_DEFAULT));
  const filters = params.getAll("f").map((text) => {
    const position = text.indexOf(":");
    return [text.slice(0, position), text.slice(position + 1)];
  }).filter(([field]) => FACETS.includes(field));
  const fq = filters.map(([field, value]) => `${field}:${quoted(value)}`).join(" ");
  const result = await ckan("package_search", {
    q,
    fq,
    rows: String(rows),
    start: String((page - 1) * rows),
    "facet.field": FACETS,
    "facet.limit": "50",
  });
  const input = h("input", { id: "q", type: "search", value: q, placeholder: t("query") });
  const form = h("form", { id: "search-form", onsubmit: (event) => { event.preventDefault(); location.hash = searchHash(input.value.trim(), filters, 1); } },
    input, h("button", { type: "submit", id: "search-button" }, t("searchButton")));
  const chips = filters.map(([field, value], position) => h("span", { class: "chip", "data-facet": field },
    `${t(`facet_${field}`)}: ${facetValueLabel(field, { name: value, display_name: value })} `,
    h("button", { type: "button", title: t("clearFilter"), onclick: () => { location.hash = searchHash(q, filters.filter((_, other) => other !== position), 1); } }, "×")));
  const facets = FACETS.map((field) => {
    // A city department's resources have no district: nothing to filter on.
    const items = ((result.search_facets[field] || {}).items || []).filter((item) => item.name !== "");
    return h("section", { class: "facet", id: `facet-${field}` },
      h("h3", {}, t(`facet_${field}`)),
      h("ul", {}, items.map((item) => h("li", {},
        h("button", { type: "button", "data-value": item.name, onclick: () => { location.hash = searchHash(q, [...filters, [field, item.name]], 1); } },
          `${facetValueLabel(field, item)} (${item.count})`)))));
  });
  const pages = Math.max(1, Math.ceil(result.count / rows));
  const results = result.results.map((item) => resultCard(item));
  main.replaceChildren(
    form,
    h("div", { id: "chips" }, chips),
    h("div", { class: "search-layout" },
      h("aside", { id: "facets" }, h("h2", {}, t("filters")), facets),
      h("section", {},
        h("p", { id: "count" }, `${result.count} ${t("results")}`),
        h("div", { id: "results" }, results.length ? results : h("p", {}, t("noResults"))),
        h("div", { class: "actions" },
          h("button", { type: "button", id: "previous", disabled: page <= 1, onclick: () => { location.hash = searchHash(q, filters, page - 1); } }, t("previous")),
          h("span", { id: "page" }, t("page", page, pages)),
          h("button", { type: "button", id: "next", disabled: page >= pages, onclick: () => { location.hash = searchHash(q, filters, page + 1); } }, t("next"))))),
  );
}

function extrasOf(pkg) {
  return Object.fromEntries((pkg.extras || []).map((item) => [item.key, item.value]));
}

function packageName(pkg) {
  const extras = extrasOf(pkg);
  return currentLanguage() === "en" && extras.name_en ? extras.name_en : pkg.title;
}

function resultCard(pkg) {
  const extras = extrasOf(pkg);
  const department = lookups.departments.get(pkg.owner_org);
  return h("article", { class: "result", "data-code": pkg.id },
    h("h3", {}, h("a", { href: `#/resource/${encodeURIComponent(pkg.id)}` }, packageName(pkg))),
    h("div", { class: "muted" }, `${pkg.id} · ${localName(department) || pkg.owner_org} · ${label("sharing", extras.sharing_type)} · ${label("cycle", extras.update_cycle)}`),
    h("p", {}, (currentLanguage() === "en" && extras.abstract_en) || pkg.notes || ""));
}

// ------------------------------------------------------------------ a resource

function safeLink(url) {
  return /^https?:\/\//i.test(url) ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, url) : h("span", {}, url);
}

async function resourcePage(code) {
  await loadLookups();
  const [pkg, history, config] = await Promise.all([
    ckan("package_show", { id: code }),
    directory(`resources/${encodeURIComponent(code)}/history`),
    directory("config"),
  ]);
  const extras = extrasOf(pkg);
  const department = lookups.departments.get(pkg.owner_org);
  const category = lookups.categories.get(extras.category_code);
  const items = JSON.parse(extras.data_items || "[]");
  const own = Boolean(session && session.department && session.department.code === pkg.owner_org);
  const fields = definitions([
    [t("code"), h("span", { id: "resource-code" }, pkg.id)],
    [t("name"), h("span", { id: "resource-name" }, pkg.title)],
    [t("nameEn"), extras.name_en || ""],
    [t("provider"), `${localName(department) || pkg.owner_org} (${pkg.owner_org})`],
    [t("category"), `${localName(category) || extras.category_code} (${extras.category_code})`],
    [t("abstract"), pkg.notes || ""],
    [t("format"), label("format", extras.resource_format)],
    [t("sharingType"), label("sharing", extras.sharing_type)],
    [t("sharingConditions"), extras.sharing_conditions || ""],
    [t("sharingMethod"), extras.sharing_method || ""],
    [t("openness"), label("openness", extras.openness)],
    [t("updateCycle"), label("cycle", extras.update_cycle)],
    [t("publishDate"), extras.publish_date || ""],
    [t("keywords"), (pkg.tags || []).map((tag) => tag.name).join(", ")],
    [t("facet_district"), extras.district ? extras.district : t("cityLevel")],
    [t("version"), pkg.version],
    [t("status"), label("status", extras.status)],
  ], { id: "resource-fields" });
  const itemTable = table([t("itemName"), t("itemType"), t("itemLength"), t("itemDescription")],
    items.map((item) => [item.name, item.type, item.length ? String(item.length) : "", item.description || ""]), { id: "data-items" });
  const distributionTable = table([t("name"), t("distributionFormat"), t("url"), t("hash"), t("size")],
    (pkg.resources || []).map((item) => [item.name, item.format, safeLink(item.url || ""), h("span", { class: "hex" }, item.hash || ""), item.size ? String(item.size) : ""]),
    { id: "distributions" });
  const verifyTarget = h("div", { class: "verify", id: "verify-result" });
  const historyTable = table([t("version"), t("transactionId"), t("height"), t("time"), t("author"), t("status"), t("note"), ""],
    history.versions.map((version) => [
      String(version.version),
      h("span", { class: "hex" }, version.transaction_id),
      String(version.height),
      timeText(version.time_ms),
      version.author,
      label("status", version.status),
      version.rollup
        ? h("span", { class: "rollup" }, `${t("rolledUpFrom")} ${version.rollup.district} (${version.rollup.district_chain_id} @${version.rollup.proven_height}), ${t("rolledUpVia")} ${version.rollup.client_id} @${version.rollup.height}`)
        : version.reason || "",
      config.verify
        ? h("button", { type: "button", id: `verify-${version.version}`, class: "verify-button", onclick: () => verifyVersion(version, verifyTarget) }, t("verify"))
        : "",
    ]), { id: "history" });
  const sections = [
    h("h2", {}, packageName(pkg)),
    fields,
    h("h3", {}, t("dataItems")), itemTable,
    h("h3", {}, t("distributions")), distributionTable,
    h("h3", {}, t("history")), historyTable,
    config.verify ? verifyTarget : h("p", { class: "muted" }, t("verifyUnavailable")),
  ];
  if (own && extras.status === "active") {
    const reason = h("input", { id: "withdraw-reason", placeholder: t("withdrawReason") });
    const withdraw = () => guarded(async () => {
      await directory(`resources/${encodeURIComponent(pkg.id)}/withdraw`, { method: "POST", body: { reason: reason.value, expected_version: Number(pkg.version) } });
      await resourcePage(pkg.id);
    });
    sections.splice(1, 0, h("div", { class: "notice actions" }, t("ownResource"), " ",
      h("a", { href: `#/revise/${encodeURIComponent(pkg.id)}`, id: "revise" }, t("revise")),
      reason, h("button", { type: "button", id: "withdraw", onclick: withdraw }, t("withdraw"))));
  } else if (session && session.department && extras.status === "active" && extras.sharing_type !== "not_shared") {
    sections.push(requestForm(pkg.id, items));
  }
  main.replaceChildren(...sections);
}

async function verifyVersion(version, target) {
  target.replaceChildren(t("verifying"));
  let outcome;
  try {
    const keyBytes = fromHex(version.state_key);
    const answer = await node(`state/${version.state_key}`);
    const status = await node("status");
    const block = await node(`blocks/${answer.height}?header_only=true`);
    const validatorSet = (await node(`validator-sets/${answer.height}`)).validatorSet;
    outcome = await verifyStateEntry({ answer, keyBytes, certificate: block.certificate, validatorSet, status });
    const matches = Boolean(answer.found) && equalBytes(fromBase64(answer.value), fromBase64(version.record));
    outcome.checks.unshift({ name: t("recordMatches"), ok: matches, detail: `${t("height")} ${answer.height}` });
    outcome.ok = outcome.ok && matches;
  } catch (error) {
    outcome = { ok: false, checks: [{ name: "proof", ok: false, detail: error.message }] };
  }
  target.replaceChildren(
    h("p", {}, `${t("version")} ${version.version}: `, h("span", { id: "verify-outcome", class: outcome.ok ? "pass" : "fail" }, outcome.ok ? t("verified") : t("verifyFailed"))),
    h("ul", {}, outcome.checks.map((item) => h("li", {}, `${item.ok ? "✔" : "✘"} ${item.name}`, item.detail ? h("span", { class: "muted" }, ` — ${item.detail}`) : ""))),
  );
}

function requestForm(code, items) {
  const purpose = h("textarea", { id: "purpose", required: true });
  const basis = h("input", { id: "legal-basis" });
  const boxes = items.map((item) => h("label", { class: "item-choice" }, h("input", { type: "checkbox", value: item.name, class: "item-box" }), ` ${item.name}`));
  return h("form", { class: "stacked", id: "request-form", onsubmit: (event) => {
    event.preventDefault();
    guarded(async () => {
      const chosen = boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value);
      const created = await directory("requests", { method: "POST", body: { resource_code: code, purpose: purpose.value, legal_basis: basis.value, data_items: chosen } });
      document.getElementById("request-sent").replaceChildren(t("requestSent"), h("span", { id: "sent-id" }, created.id));
    });
  } },
  h("h3", {}, t("requestThis")),
  h("label", { for: "purpose" }, t("purpose")), purpose,
  h("label", { for: "legal-basis" }, t("legalBasis")), basis,
  h("label", {}, t("requestedItems")), h("div", {}, boxes),
  h("p", {}, h("button", { type: "submit", id: "send-request" }, t("sendRequest"))),
  h("p", { id: "request-sent", class: "notice" }));
}

// ------------------------------------------------------------------ register / revise

function select(id, values, prefix, chosen) {
  return h("select", { id }, h("option", { value: "" }, t("choose")),
    values.map((value) => h("option", { value, selected: value === chosen }, prefix ? label(prefix, value) : value)));
}

async function registerPage(code) {
  if (!session || !session.department) {
    main.replaceChildren(h("p", {}, t(session ? "noDepartment" : "signInFirst")));
    return;
  }
  await loadLookups();
  const pkg = code ? await ckan("package_show", { id: code }) : null;
  const extras = pkg ? extrasOf(pkg) : {};
  const distribution = pkg && pkg.resources.length ? pkg.resources[0] : {};
  const items = JSON.parse(extras.data_items || "[]");
  const field = (id, tag = "input", value = "", attributes = {}) => {
    const element = h(tag, { id, name: id, ...attributes });
    element.value = value;
    return element;
  };
  const categoryOptions = [...lookups.categories.values()].filter((item) => item.level >= 2).map((item) => item.code);
  const categorySelect = h("select", { id: "category" }, h("option", { value: "" }, t("choose")),
    categoryOptions.map((value) => h("option", { value, selected: value === extras.category_code }, `${value} ${localName(lookups.categories.get(value))}`)));
  const inputs = {
    title: field("title", "input", pkg ? pkg.title : ""),
    name_en: field("name-en", "input", extras.name_en || ""),
    notes: field("abstract", "textarea", pkg ? pkg.notes : ""),
    resource_format: select("resource-format", FORMATS, "format", extras.resource_format),
    sharing_type: select("sharing-type", SHARING_TYPES, "sharing", extras.sharing_type),
    sharing_conditions: field("sharing-conditions", "textarea", extras.sharing_conditions || ""),
    sharing_method: field("sharing-method", "input", extras.sharing_method || ""),
    update_cycle: select("update-cycle", CYCLES, "cycle", extras.update_cycle),
    publish_date: field("publish-date", "input", extras.publish_date || "", { type: "date" }),
    data_items: field("data-items-text", "textarea", items.map((item) => `${item.name},${item.type}`).join("\n")),
    keywords: field("keywords", "input", pkg ? pkg.tags.map((tag) => tag.name).join(", ") : ""),
    distribution_name: field("distribution-name", "input", distribution.name || ""),
    distribution_format: field("distribution-format", "input", distribution.format || ""),
    distribution_url: field("distribution-url", "input", distribution.url || "", { type: "url" }),
    distribution_hash: field("distribution-hash", "input", distribution.hash || "", { placeholder: "sha256:… / sm3:…" }),
  };
  const submit = () => guarded(async () => {
    const dataItems = inputs.data_items.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
      const [name, type = "string"] = line.split(/[,，]/).map((part) => part.trim());
      return { name, type: ITEM_TYPES.has(type) ? type : type || "string" };
    });
    const resource = { name: inputs.distribution_name.value, format: inputs.distribution_format.value, url: inputs.distribution_url.value };
    if (inputs.distribution_hash.value.trim()) resource.hash = inputs.distribution_hash.value.trim();
    const body = {
      title: inputs.title.value,
      name_en: inputs.name_en.value,
      notes: inputs.notes.value,
      owner_org: session.department.code.toLowerCase(),
      category_code: categorySelect.value,
      resource_format: inputs.resource_format.value,
      sharing_type: inputs.sharing_type.value,
      sharing_conditions: inputs.sharing_conditions.value,
      sharing_method: inputs.sharing_method.value,
      update_cycle: inputs.update_cycle.value,
      publish_date: inputs.publish_date.value,
      data_items: JSON.stringify(dataItems),
      tags: inputs.keywords.value.split(/[,，]/).map((word) => word.trim()).filter(Boolean).map((name) => ({ name })),
      resources: resource.url || resource.hash ? [resource] : [],
    };
    if (pkg) {
      body.id = pkg.id;
      body.version = pkg.version;
    }
    const saved = await ckan(pkg ? "package_update" : "package_create", body, { write: true });
    location.hash = `#/resource/${encodeURIComponent(saved.id)}`;
  });
  const labelled = (key, element) => [h("label", { for: element.id }, t(key)), element];
  main.replaceChildren(h("form", { class: "stacked", id: "register-form", onsubmit: (event) => { event.preventDefault(); submit(); } },
    h("h2", {}, pkg ? `${t("revise")} ${pkg.id}` : t("register")),
    labelled("name", inputs.title),
    labelled("nameEn", inputs.name_en),
    labelled("category", categorySelect),
    labelled("abstract", inputs.notes),
    labelled("format", inputs.resource_format),
    labelled("sharingType", inputs.sharing_type),
    labelled("sharingConditions", inputs.sharing_conditions),
    labelled("sharingMethod", inputs.sharing_method),
    labelled("updateCycle", inputs.update_cycle),
    labelled("publishDate", inputs.publish_date),
    labelled("dataItems", inputs.data_items), h("div", { class: "muted" }, t("dataItemsHelp")),
    labelled("keywords", inputs.keywords),
    h("h3", {}, t("distributions")),
    labelled("distributionName", inputs.distribution_name),
    labelled("distributionFormat", inputs.distribution_format),
    labelled("url", inputs.distribution_url),
    labelled("hash", inputs.distribution_hash),
    h("p", {}, h("button", { type: "submit", id: "save" }, t("save")))));
}

// ------------------------------------------------------------------ requests

// role: "incoming" (addressed to the signed-in department), "outgoing" (made by it) or
// "escalated" (the administrators' inbox); reload draws the page again after an action.
function requestCard(request, role, reload) {
  const history = table([t("state"), t("height"), t("transactionId"), t("time")],
    (request.history || []).map((item) => [label("state", item.state), String(item.height), h("span", { class: "hex" }, item.transaction_id), timeText(item.answered_ms || item.created_ms)]),
    { class: "request-history" });
  const actions = h("div", { class: "actions" });
  const answerable = request.state === "pending" || request.state === "escalated";
  const act = (action, body) => guarded(async () => {
    await directory(`requests/${encodeURIComponent(request.id)}/${action}`, { method: "POST", body });
    await reload();
  });
  // The provider answers a pending request; once escalated, only the administrators do.
  const answers = role === "escalated" ? request.state === "escalated" : role === "incoming" && answerable;
  if (answers) {
    const terms = h("input", { class: "terms", placeholder: t("terms") });
    const reason = h("input", { class: "reason", placeholder: t("refuseReason") });
    actions.append(
      terms, h("button", { type: "button", class: "approve", onclick: () => act("approve", { terms: terms.value }) }, t("approve")),
      reason, h("button", { type: "button", class: "refuse", onclick: () => act("refuse", { reason: reason.value }) }, t("refuse")),
    );
  } else if (role === "outgoing" && answerable) {
    actions.append(h("button", { type: "button", class: "cancel", onclick: () => act("cancel", {}) }, t("cancel")));
    if (request.state === "pending" && Date.now() > Number(request.answer_by_ms)) {
      actions.append(h("button", { type: "button", class: "escalate", onclick: () => act("escalate", {}) }, t("escalate")));
    }
  }
  const approved = request.state === "approved" || request.state === "conditionally_approved";
  if (role === "incoming" && approved) {
    const reason = h("input", { class: "revoke-reason", placeholder: t("revokeReason") });
    actions.append(reason, h("button", { type: "button", class: "revoke", onclick: () => act("revoke", { reason: reason.value }) }, t("revoke")));
  } else if (role === "outgoing" && approved) {
    const records = h("input", { class: "records", type: "number", min: "0", value: "0" });
    const purpose = h("input", { class: "usage-purpose", placeholder: t("purpose") });
    actions.append(
      h("label", {}, t("records"), " ", records), purpose,
      h("button", { type: "button", class: "usage", onclick: () => act("usage", { records: Number(records.value) || 0, purpose: purpose.value }) }, t("recordUsage")),
      h("span", { class: "muted" }, `${t("receipts")}: ${request.receipts}`),
    );
  }
  const party = (code) => `${localName(lookups.departments.get(code)) || ""} (${code})`;
  const parties = [];
  if (role !== "outgoing") parties.push([t("requester"), party(request.requester_code)]);
  if (role !== "incoming") parties.push([t("provider"), party(request.provider_code)]);
  return h("article", { class: "request", "data-id": request.id, "data-state": request.state },
    definitions([
      [t("requestId"), request.id],
      [t("code"), h("a", { href: `#/resource/${encodeURIComponent(request.resource_code)}` }, `${request.resource_code} (v${request.resource_version})`)],
      ...parties,
      [t("purpose"), request.purpose],
      [t("legalBasis"), request.legal_basis],
      [t("dataItems"), request.data_items.join(", ")],
      [t("state"), h("span", { class: "state" }, label("state", request.state))],
      [t("answerBy"), timeText(request.answer_by_ms)],
      [t("reason"), request.reason || request.terms || ""],
    ]),
    actions,
    h("details", {}, h("summary", {}, t("requestHistory")), history));
}

function requestList(id, requests, role, reload, empty) {
  return h("div", { id }, requests.length ? requests.map((item) => requestCard(item, role, reload)) : h("p", {}, t(empty)));
}

async function requestsPage() {
  if (!session) {
    main.replaceChildren(h("p", {}, t("signInFirst")));
    return;
  }
  if (!session.department) {
    main.replaceChildren(h("p", { id: "no-department" }, t("noDepartment"), " ", h("a", { href: "#/escalated" }, t("escalated"))));
    return;
  }
  await loadLookups();
  const [incoming, outgoing] = await Promise.all([directory("requests?role=incoming"), directory("requests?role=outgoing")]);
  main.replaceChildren(
    h("h2", {}, t("incoming")),
    requestList("incoming", incoming, "incoming", requestsPage, "noRequests"),
    h("h2", {}, t("outgoing")),
    requestList("outgoing", outgoing, "outgoing", requestsPage, "noRequests"),
  );
}

// The administrators' inbox: what the service lists needs an administrator's token (the
// server refuses any other, and the contract decides each answer).
async function escalatedPage() {
  if (!session) {
    main.replaceChildren(h("p", {}, t("signInFirst")));
    return;
  }
  await loadLookups();
  const escalated = await directory("requests?role=escalated");
  main.replaceChildren(
    h("h2", {}, t("escalated")),
    h("p", { class: "muted" }, t("escalatedHelp")),
    requestList("escalated", escalated, "escalated", escalatedPage, "noEscalated"),
  );
}

// ------------------------------------------------------------------ the router

async function route() {
  const { parts, params } = parseHash();
  main.removeAttribute("data-ready");
  main.replaceChildren(h("p", { class: "muted" }, t("loading")));
  await guarded(async () => {
    if (parts[0] === "resource" && parts[1]) await resourcePage(parts[1]);
    else if (parts[0] === "register") await registerPage(null);
    else if (parts[0] === "revise" && parts[1]) await registerPage(parts[1]);
    else if (parts[0] === "requests") await requestsPage();
    else if (parts[0] === "escalated") await escalatedPage();
    else await searchPage(params);
  });
  main.setAttribute("data-ready", location.hash || "#/search");
}

document.getElementById("language").addEventListener("click", () => {
  setLanguage(currentLanguage() === "zh" ? "en" : "zh");
  renderHeader();
  clearError();
  route();
});
window.addEventListener("hashchange", () => route());
loadSession().then((accepted) => (accepted ? route() : searchPage(new URLSearchParams()).catch(showError)));
