// The explorer's pages: a hash router (#/blocks, #/block/7, #/tx/<id>, ...) over the node's API.

import * as api from "./api.js";
import { bigEndianToDecimal, concatenate, fromBase64, fromText, toHex } from "./bytes.js";
import { lineChart } from "./chart.js";
import { definitions, h, link, shortHex, table, timeText } from "./dom.js";
import { decode } from "./protobuf.js";
import { headerChecks, verifyStateEntry, verifyTransaction } from "./verify.js";

// Blocks the dashboard's chart and signing record cover.
const DASHBOARD_BLOCKS = 50;
const BLOCKS_PAGE = 25;
// The native contracts (causeway.execution.keys and causeway.interchain.keys namespaces).
const NATIVE_CONTRACTS = [
  ["kv", "kv/", "key-value store"],
  ["ledger", "ledger/", "accounts and balances of the chain's token"],
  ["config", "sys/config", "chain configuration (governance)"],
  ["membership", "sys/org/, sys/member/", "organisations and members (governance)"],
  ["validators", "sys/validator_schedule", "validator set changes (governance)"],
  ["evidence", "sys/evidence/", "double-signing evidence"],
  ["code", "sys/code/", "user contract lifecycle: deploy, upgrade, freeze, revoke"],
  ["proposals", "sys/proposals/", "governance proposals"],
  ["clients", "sys/clients/", "interchain light clients"],
  ["packets", "sys/packets/", "interchain packets"],
  ["hub", "sys/hub/", "hub registry of member chains"],
  ["bank", "bank/", "multi-denomination balances (interchain transfers)"],
  ["transfer", "transfer/", "interchain token transfer"],
];
const PACKET_EVENTS = new Set(["send_packet", "receive_packet", "write_acknowledgement", "acknowledge_packet", "timeout_packet"]);

const main = () => document.getElementById("main");
let statusCache = null;

async function status() {
  statusCache = await api.getStatus();
  return statusCache;
}

function idHex(base64) {
  return toHex(fromBase64(base64));
}

function statusName(result) {
  return (result.status || "").replace("RESULT_STATUS_", "").toLowerCase();
}

function transactionSummary(transaction) {
  try {
    return decode("TransactionBody", fromBase64(transaction.body));
  } catch {
    return {};
  }
}

function heading(text, ...rest) {
  return h("h1", {}, text, ...rest);
}

function eventsTable(events) {
  return table(
    ["contract", "event", "attributes"],
    events.map((event) => [
      event.contract,
      event.name,
      (event.attributes || []).map((attribute) => `${attribute.key}=${attribute.value}`).join(", "),
    ]),
    { class: "events" },
  );
}

// ------------------------------------------------------------------ dashboard

async function dashboard() {
  const current = await status();
  const height = Number(current.height);
  const recent = await api.recentBlocks(height, DASHBOARD_BLOCKS, { headerOnly: true });
  const ordered = [...recent].reverse();
  const points = [];
  for (let index = 1; index < ordered.length; index += 1) {
    const header = ordered[index].block.header;
    const seconds = (Number(header.timeMs) - Number(ordered[index - 1].block.header.timeMs)) / 1000;
    points.push([String(header.height), seconds > 0 ? Number(header.transactionCount || 0) / seconds : 0]);
  }
  const signed = new Map();
  for (const answer of recent) {
    for (const signature of answer.certificate?.signatures || []) {
      signed.set(signature.validator, (signed.get(signature.validator) || 0) + 1);
    }
  }
  const validators = height ? (await api.getValidatorSet(height)).validatorSet.validators || [] : [];
  const transactions = recent.reduce((sum, answer) => sum + Number(answer.block.header.transactionCount || 0), 0);
  return [
    heading("Dashboard"),
    h(
      "section",
      { class: "cards" },
      card("height", link(`#/block/${height}`, String(height), { id: "dashboard-height" })),
      card("chain", current.chainId),
      card("profile", current.cryptoProfile),
      card("consensus", current.consensus),
      card("mempool", String(current.mempoolSize)),
      card("genesis hash", h("code", { id: "genesis-hash", title: idHex(current.genesisHash) }, shortHex(idHex(current.genesisHash)))),
      card(`transactions in last ${recent.length} blocks`, String(transactions)),
    ),
    h("h2", {}, `Transactions per second over the last ${recent.length} blocks`),
    h("div", { id: "tps-chart" }, lineChart(points, { label: "transactions per second by height" })),
    h("h2", {}, "Validators"),
    table(
      ["validator", "algorithm", "voting power", `signed (last ${recent.length} blocks)`],
      validators.map((validator) => [
        validator.memberId,
        validator.algorithm,
        String(validator.votingPower),
        `${signed.get(validator.memberId) || 0} of ${recent.length}`,
      ]),
      { id: "validators" },
    ),
  ];
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value));
}

// ------------------------------------------------------------------ blocks

async function blocksPage() {
  const current = await status();
  const recent = await api.recentBlocks(current.height, BLOCKS_PAGE, { headerOnly: true });
  return [
    heading("Blocks"),
    table(
      ["height", "time", "transactions", "proposer", "hash"],
      recent.map((answer) => {
        const header = answer.block.header;
        return [
          link(`#/block/${header.height}`, header.height),
          timeText(header.timeMs),
          String(header.transactionCount || 0),
          header.proposer,
          h("code", {}, shortHex(idHex(answer.certificate?.blockHash || ""))),
        ];
      }),
      { id: "blocks" },
    ),
  ];
}

async function blockPage(height) {
  const [answer, current] = await Promise.all([api.getBlock(height), status()]);
  const header = answer.block.header;
  const results = answer.results || [];
  const result = h("div", { id: "verify-result", class: "verify" });
  const verifyButton = h("button", {
    id: "verify-header",
    onclick: async () => {
      result.replaceChildren("checking…");
      const validatorSet = (await api.getValidatorSet(header.height)).validatorSet;
      const checks = await headerChecks({ header, certificate: answer.certificate, validatorSet, status: current });
      showChecks(result, { ok: checks.every((item) => item.ok), checks });
    },
  }, "Verify header and certificate");
  return [
    heading(`Block ${header.height}`),
    definitions([
      ["hash", h("code", {}, idHex(answer.certificate?.blockHash || ""))],
      ["time", timeText(header.timeMs)],
      ["proposer", header.proposer],
      // Height 0 means "the latest" to the API: the first block's parent is genesis, not a block.
      ["previous", Number(header.height) > 1 ? link(`#/block/${Number(header.height) - 1}`, h("code", {}, idHex(header.previousHash))) : "genesis"],
      ["transactions", String(header.transactionCount || 0)],
      ["state root", h("code", {}, idHex(header.stateRoot))],
      ["signed by", (answer.certificate?.signatures || []).map((item) => item.validator).join(", ")],
    ]),
    verifyButton,
    result,
    h("h2", {}, "Transactions"),
    table(
      ["#", "id", "contract.method", "sender", "status"],
      (answer.block.transactions || []).map((transaction, index) => {
        const body = transactionSummary(transaction);
        const identifier = results[index] ? idHex(results[index].transactionId) : "";
        return [
          String(index),
          link(`#/tx/${identifier}`, h("code", {}, shortHex(identifier))),
          `${body.contract}.${body.method}`,
          body.sender,
          results[index] ? statusName(results[index]) : "",
        ];
      }),
      { id: "block-transactions" },
    ),
  ];
}

// ------------------------------------------------------------------ transactions

function showChecks(target, outcome) {
  target.replaceChildren(
    h("p", { class: outcome.ok ? "verified" : "failed", id: "verify-outcome" }, outcome.ok ? "verified" : "failed"),
    h("ul", { class: "checks" }, outcome.checks.map((item) => h("li", { class: item.ok ? "ok" : "bad" }, `${item.ok ? "✔" : "✘"} ${item.name}`, item.detail ? h("small", {}, ` — ${item.detail}`) : ""))),
  );
}

async function transactionPage(identifier) {
  const answer = await api.getTransaction(identifier);
  const body = transactionSummary(answer.transaction);
  const result = answer.result;
  const target = h("div", { id: "verify-result", class: "verify" });
  const verifyButton = h("button", {
    id: "verify",
    onclick: async () => {
      target.replaceChildren("checking…");
      try {
        // Read again: what is checked is exactly what the node answers now.
        const fresh = await api.getTransaction(identifier);
        const current = await status();
        const block = await api.getHeader(fresh.height);
        const validatorSet = (await api.getValidatorSet(fresh.height)).validatorSet;
        showChecks(target, await verifyTransaction({ answer: fresh, transactionIdHex: identifier, certificate: block.certificate, validatorSet, status: current }));
      } catch (error) {
        showChecks(target, { ok: false, checks: [{ name: "reading the proofs", ok: false, detail: error.message }] });
      }
    },
  }, "Verify in this browser");
  return [
    heading("Transaction ", h("code", {}, shortHex(identifier, 24))),
    definitions([
      ["id", h("code", { id: "transaction-id" }, identifier)],
      ["block", link(`#/block/${answer.height}`, `${answer.height} (position ${answer.index})`)],
      ["time", timeText(body.timestampMs)],
      ["sender", body.sender ? link(`#/account/${encodeURIComponent(body.sender)}`, body.sender) : ""],
      ["call", `${body.contract}.${body.method}`],
      ["arguments", h("code", {}, shortHex(toHex(body.arguments || new Uint8Array()), 64))],
      ["status", h("span", { id: "result-status", class: result.status === "RESULT_STATUS_OK" ? "ok" : "bad" }, statusName(result))],
      ["error", result.error || ""],
      ["gas used", String(result.cost?.gasUsed || 0)],
      ["return value", h("code", {}, toHex(fromBase64(result.returnValue || "")))],
    ]),
    h("h2", {}, "Events"),
    eventsTable(result.events || []),
    h("h2", {}, "Proof"),
    h("p", {}, "Checks, in this browser and trusting nothing the node says: the transaction and its result against the block header's roots, the header against its commit certificate and validator set, and every signature (ECDSA P-256 and Ed25519 with WebCrypto, SM2 and SM3 in JavaScript)."),
    verifyButton,
    target,
  ];
}

// ------------------------------------------------------------------ state entries, accounts

function stateVerifier(keyBytes, label) {
  const target = h("div", { class: "verify", id: "verify-result" });
  const button = h("button", {
    id: "verify",
    onclick: async () => {
      target.replaceChildren("checking…");
      try {
        const answer = await api.getState(keyBytes);
        const current = await status();
        const block = await api.getHeader(answer.height);
        const validatorSet = (await api.getValidatorSet(answer.height)).validatorSet;
        showChecks(target, await verifyStateEntry({ answer, keyBytes, certificate: block.certificate, validatorSet, status: current }));
      } catch (error) {
        showChecks(target, { ok: false, checks: [{ name: "reading the proof", ok: false, detail: error.message }] });
      }
    },
  }, label);
  return [button, target];
}

async function scannedEvents() {
  const current = await status();
  const blocks = await api.recentBlocks(current.height, api.SCAN_BLOCKS_DEFAULT);
  return { events: api.eventsOf(blocks), scanned: blocks.length, blocks };
}

async function accountsPage() {
  const { events, scanned } = await scannedEvents();
  const accounts = new Map();
  for (const { event, attributes } of events) {
    if (event.contract !== "ledger" && event.contract !== "bank") continue;
    for (const name of ["account", "from", "to"]) {
      if (attributes[name]) accounts.set(attributes[name], (accounts.get(attributes[name]) || 0) + 1);
    }
  }
  const input = h("input", { id: "account-input", placeholder: "account (e.g. org1/client)" });
  return [
    heading("Accounts"),
    h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); location.hash = `#/account/${encodeURIComponent(input.value.trim())}`; } }, input, h("button", {}, "Look up")),
    h("p", {}, `Accounts that ledger or bank events of the last ${scanned} blocks name; any other can be looked up.`),
    table(["account", "events"], [...accounts.entries()].sort().map(([name, count]) => [link(`#/account/${encodeURIComponent(name)}`, name), String(count)]), { id: "accounts" }),
  ];
}

async function accountPage(account) {
  const key = fromText(`ledger/balance/${account}`);
  const answer = await api.getState(key);
  const balance = answer.found ? bigEndianToDecimal(fromBase64(answer.value)) : "0";
  const { events } = await scannedEvents();
  const denominations = new Set();
  const history = [];
  for (const record of events) {
    const { event, attributes } = record;
    if ((event.contract === "ledger" || event.contract === "bank") && [attributes.account, attributes.from, attributes.to].includes(account)) {
      history.push(record);
      if (event.contract === "bank" && attributes.denom) denominations.add(attributes.denom);
    }
  }
  const bankRows = [];
  for (const denom of denominations) {
    const bankKey = concatenate(fromText(`bank/balance/${account}`), Uint8Array.of(0), fromText(denom));
    const entry = await api.getState(bankKey);
    bankRows.push([denom, entry.found ? bigEndianToDecimal(fromBase64(entry.value)) : "0"]);
  }
  return [
    heading("Account ", h("code", {}, account)),
    definitions([
      ["ledger balance", h("span", { id: "ledger-balance" }, balance)],
      ["at height", String(answer.height)],
    ]),
    ...stateVerifier(key, "Verify balance in this browser"),
    h("h2", {}, "Bank balances"),
    bankRows.length ? table(["denomination", "balance"], bankRows, { id: "bank-balances" }) : h("p", {}, "None seen in recent blocks."),
    h("h2", {}, "Recent activity"),
    table(
      ["height", "event", "attributes", "transaction"],
      history.reverse().map(({ height, event, transactionId }) => [
        link(`#/block/${height}`, height),
        `${event.contract}.${event.name}`,
        (event.attributes || []).map((item) => `${item.key}=${item.value}`).join(", "),
        link(`#/tx/${idHex(transactionId)}`, h("code", {}, shortHex(idHex(transactionId)))),
      ]),
      { id: "account-history" },
    ),
  ];
}

// ------------------------------------------------------------------ contracts

async function contractsPage() {
  const { events, scanned } = await scannedEvents();
  const userContracts = new Map();
  const calls = new Map();
  for (const { event, attributes, height } of events) {
    calls.set(event.contract, (calls.get(event.contract) || 0) + 1);
    if (event.contract === "code" && attributes.contract) {
      userContracts.set(attributes.contract, { ...attributes, height, event: event.name });
    }
  }
  return [
    heading("Contracts"),
    h("h2", {}, "Native contracts"),
    table(
      ["name", "state", "what", `events (last ${scanned} blocks)`],
      NATIVE_CONTRACTS.map(([name, namespace, what]) => [name, h("code", {}, namespace), what, String(calls.get(name) || 0)]),
      { id: "native-contracts" },
    ),
    h("h2", {}, "User contracts"),
    userContracts.size
      ? table(
          ["name", "version", "status", "code hash", "last change"],
          [...userContracts.values()].map((record) => [
            link(`#/contract/${encodeURIComponent(record.contract)}`, record.contract),
            record.version,
            record.status,
            h("code", {}, shortHex(record.code_hash || "")),
            link(`#/block/${record.height}`, `${record.event} at ${record.height}`),
          ]),
          { id: "user-contracts" },
        )
      : h("p", { id: "user-contracts" }, `No user contract deployed in the last ${scanned} blocks.`),
  ];
}

async function contractPage(name) {
  const key = fromText(`sys/code/contract/${name}`);
  const answer = await api.getState(key);
  const { events } = await scannedEvents();
  const own = events.filter(({ event }) => event.contract === name || (event.contract === "code" && event.attributes?.some((item) => item.key === "contract" && item.value === name)));
  return [
    heading("Contract ", h("code", {}, name)),
    definitions([
      ["record", answer.found ? `${fromBase64(answer.value).length} bytes at sys/code/contract/${name}` : "no user contract of this name"],
      ["at height", String(answer.height)],
    ]),
    ...stateVerifier(key, "Verify record in this browser"),
    h("h2", {}, "Recent events"),
    eventsTable(own.map(({ event }) => event)),
  ];
}

// ------------------------------------------------------------------ proposals, packets

// ProposalStatus by number (proposals.proto); tests/explorer/test_explorer_statuses.py checks it.
const PROPOSAL_STATUSES = ["unspecified", "open", "executed", "failed", "expired", "withdrawn", "rejected"];
// The events that end a proposal, each named as the status it leaves.
const PROPOSAL_ENDINGS = new Set(["executed", "failed", "withdrawn", "rejected"]);

// A proposal's record key: sys/proposals/proposal/<id as 20 decimal digits>.
function proposalKey(id) {
  return fromText(`sys/proposals/proposal/${String(id).padStart(20, "0")}`);
}

async function proposalsPage() {
  const { events, scanned } = await scannedEvents();
  const own = events.filter(({ event }) => event.contract === "proposals");
  if (!own.length) {
    return [
      heading("Governance proposals"),
      h("p", { id: "no-proposals" }, `No governance proposals in the last ${scanned} blocks (this chain may not have the proposals contract).`),
    ];
  }
  // The contract's events: created(id, creator, deadline_ms), voted(id, organisation, vote),
  // executed(id), failed(id, call, status, error), withdrawn(id, organisation, member),
  // rejected(id, no).
  const byId = new Map();
  for (const { event, attributes, height, transactionId } of own) {
    const id = attributes.id || "?";
    const entry = byId.get(id) || { id, creator: "", deadline: "", votes: [], status: "open", history: [] };
    if (event.name === "created") {
      entry.creator = attributes.creator || "";
      entry.deadline = attributes.deadline_ms ? timeText(attributes.deadline_ms) : "";
    } else if (event.name === "voted") {
      entry.votes.push(`${attributes.organisation}: ${attributes.vote}`);
    } else if (PROPOSAL_ENDINGS.has(event.name)) {
      entry.status = event.name;
    }
    entry.history.push({ name: event.name, height, transactionId });
    byId.set(id, entry);
  }
  return [
    heading("Governance proposals"),
    h("p", {}, `Proposals the proposals contract's events of the last ${scanned} blocks name, newest last.`),
    table(
      ["proposal", "creator", "deadline", "votes", "status", "history"],
      [...byId.values()].map((entry) => [
        link(`#/proposal/${entry.id}`, entry.id),
        entry.creator,
        entry.deadline,
        entry.votes.join(", "),
        entry.status,
        h("span", {}, entry.history.map((item, index) => [index ? ", " : "", link(`#/tx/${idHex(item.transactionId)}`, `${item.name}@${item.height}`)])),
      ]),
      { id: "proposals" },
    ),
  ];
}

async function proposalPage(id) {
  const key = proposalKey(id);
  const answer = await api.getState(key);
  const record = answer.found ? decode("Proposal", fromBase64(answer.value)) : null;
  return [
    heading(`Proposal ${id}`),
    record
      ? definitions(
          [
            ["title", record.title || ""],
            ["description", record.description || ""],
            ["creator", record.creator || ""],
            ["creator's organisation", record.creatorOrganisation || ""],
            ["deadline", timeText(record.deadlineMs)],
            ["created at", record.createdHeight ? link(`#/block/${record.createdHeight}`, record.createdHeight) : ""],
            ["status", h("span", { id: "proposal-status" }, PROPOSAL_STATUSES[record.status || 0] || String(record.status))],
            ["ended at", record.executedHeight ? link(`#/block/${record.executedHeight}`, record.executedHeight) : ""],
            ["failure", record.failure || ""],
          ],
          { id: "proposal" },
        )
      : h("p", { id: "proposal" }, `No proposal ${id} in the state at height ${answer.height}.`),
    ...stateVerifier(key, "Verify record in this browser"),
  ];
}

async function packetsPage() {
  const { events, scanned } = await scannedEvents();
  const packets = events.filter(({ event }) => event.contract === "packets" && PACKET_EVENTS.has(event.name));
  return [
    heading("Interchain packets"),
    packets.length
      ? table(
          ["height", "event", "source client", "destination client", "sequence", "ports", "transaction"],
          packets.reverse().map(({ height, event, attributes, transactionId }) => [
            link(`#/block/${height}`, height),
            event.name,
            attributes.source_client || "",
            attributes.destination_client || "",
            attributes.sequence || "",
            `${attributes.source_port || ""} → ${attributes.destination_port || ""}`,
            link(`#/tx/${idHex(transactionId)}`, h("code", {}, shortHex(idHex(transactionId)))),
          ]),
          { id: "packets" },
        )
      : h("p", { id: "packets" }, `No interchain packets in the last ${scanned} blocks.`),
  ];
}

// ------------------------------------------------------------------ search

async function search(query) {
  const text = query.trim();
  if (/^[0-9]{1,19}$/.test(text)) return `#/block/${text}`;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) {
    const hex = text.replace(/^0x/, "").toLowerCase();
    try {
      await api.getTransaction(hex);
      return `#/tx/${hex}`;
    } catch (error) {
      if (error.status !== 404) throw error;
    }
    const current = await status();
    const recent = await api.recentBlocks(current.height, api.SCAN_BLOCKS_DEFAULT, { headerOnly: true });
    const found = recent.find((answer) => idHex(answer.certificate?.blockHash || "") === hex);
    if (found) return `#/block/${found.block.header.height}`;
    return `#/not-found/${encodeURIComponent(text)}`;
  }
  return `#/account/${encodeURIComponent(text)}`;
}

// ------------------------------------------------------------------ router

const ROUTES = [
  [/^#?\/?$/, () => dashboard()],
  [/^#\/blocks$/, () => blocksPage()],
  [/^#\/block\/([0-9]{1,19})$/, (match) => blockPage(match[1])],
  [/^#\/tx\/([0-9a-f]{64})$/, (match) => transactionPage(match[1])],
  [/^#\/accounts$/, () => accountsPage()],
  [/^#\/account\/(.+)$/, (match) => accountPage(decodeURIComponent(match[1]))],
  [/^#\/contracts$/, () => contractsPage()],
  [/^#\/contract\/(.+)$/, (match) => contractPage(decodeURIComponent(match[1]))],
  [/^#\/proposals$/, () => proposalsPage()],
  [/^#\/proposal\/([0-9]{1,19})$/, (match) => proposalPage(match[1])],
  [/^#\/packets$/, () => packetsPage()],
  [/^#\/not-found\/(.*)$/, (match) => [heading("Not found"), h("p", { id: "not-found" }, `Nothing matches ${decodeURIComponent(match[1])}: no block height, transaction id, block hash (in the last ${api.SCAN_BLOCKS_DEFAULT} blocks) or account.`)]],
];

// Each render has a number: one that finishes after a newer one started (a slow page left for
// another) is dropped rather than shown over it.
let renders = 0;

async function render() {
  renders += 1;
  const current = renders;
  const target = main();
  const route = location.hash || "#/";
  target.setAttribute("aria-busy", "true");
  document.body.dataset.ready = "false";
  let content;
  try {
    const entry = ROUTES.map(([pattern, view]) => [route.match(pattern), view]).find(([match]) => match);
    content = entry ? await entry[1](entry[0]) : [heading("Not found"), h("p", {}, `No page ${route}`)];
  } catch (error) {
    content = [heading("Error"), h("p", { class: "failed", id: "error" }, error.message)];
  }
  if (!statusCache) await status().catch(() => null);
  if (current !== renders) return;
  if (statusCache) document.getElementById("chain-name").textContent = `${statusCache.chainId} · ${statusCache.cryptoProfile} · height ${statusCache.height}`;
  target.replaceChildren(...content);
  target.removeAttribute("aria-busy");
  document.body.dataset.route = route;
  document.body.dataset.ready = "true";
}

document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("search-input");
  try {
    location.hash = await search(input.value);
  } catch (error) {
    main().replaceChildren(heading("Error"), h("p", { class: "failed", id: "error" }, error.message));
  }
});
window.addEventListener("hashchange", render);
render();
