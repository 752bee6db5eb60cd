// Reads of the node's HTTP/JSON API (docs/api.md) from the origin that served these pages, and a
// small in-memory index of recent blocks (committed blocks never change, so they are cached).

import { fromText, toHex } from "./bytes.js";

// How many recent blocks the explorer reads to find accounts, contracts, proposals and packets.
export const SCAN_BLOCKS_DEFAULT = 200;
// Requests in flight at once while scanning.
const SCAN_CONCURRENCY = 6;

export class ApiError extends Error {
  constructor(status, reason, message) {
    super(`${reason}: ${message}`);
    this.status = status;
    this.reason = reason;
  }
}

export async function getJson(path, options = {}) {
  const answer = await fetch(path, { headers: { accept: "application/json" }, ...options });
  const text = await answer.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(answer.status, "malformed", `not JSON from ${path}`);
  }
  if (!answer.ok) throw new ApiError(answer.status, body.reason || "error", body.message || text);
  return body;
}

export const getStatus = () => getJson("/v1/status");

const blocks = new Map();
const headers = new Map();
const validatorSets = new Map();

export async function getBlock(height) {
  const key = String(height);
  if (!blocks.has(key)) blocks.set(key, getJson(`/v1/blocks/${key}`));
  try {
    return await blocks.get(key);
  } catch (error) {
    blocks.delete(key);
    throw error;
  }
}

export async function getHeader(height) {
  const key = String(height);
  if (blocks.has(key)) return blocks.get(key);
  if (!headers.has(key)) headers.set(key, getJson(`/v1/blocks/${key}?header_only=true`));
  try {
    return await headers.get(key);
  } catch (error) {
    headers.delete(key);
    throw error;
  }
}

export async function getValidatorSet(height) {
  const key = String(height);
  if (!validatorSets.has(key)) validatorSets.set(key, getJson(`/v1/validator-sets/${key}`));
  try {
    return await validatorSets.get(key);
  } catch (error) {
    validatorSets.delete(key);
    throw error;
  }
}

export const getTransaction = (idHex) => getJson(`/v1/transactions/${idHex.toLowerCase()}`);

export const getState = (keyBytes, height = 0) =>
  getJson(`/v1/state/${toHex(keyBytes)}${height ? `?height=${height}` : ""}`);

export const textKey = (text) => fromText(text);

async function inBatches(items, work) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, items.length) }, worker));
  return results;
}

// The last `count` blocks up to `height` (newest first), each a GetBlockResponse, or headers
// only (header_only) when `headerOnly`.
export async function recentBlocks(height, count, { headerOnly = false } = {}) {
  const heights = [];
  for (let current = Number(height); current >= 1 && heights.length < count; current -= 1) heights.push(current);
  return inBatches(heights, (value) => (headerOnly ? getHeader(value) : getBlock(value)));
}

// Every event of the scanned blocks, with its position and transaction id, oldest first.
export function eventsOf(blockAnswers) {
  const events = [];
  for (const answer of [...blockAnswers].reverse()) {
    const height = answer.block.header.height;
    (answer.results || []).forEach((result, transactionIndex) => {
      (result.events || []).forEach((event, eventIndex) => {
        const attributes = Object.fromEntries((event.attributes || []).map((item) => [item.key, item.value]));
        events.push({ height, transactionIndex, eventIndex, transactionId: result.transactionId, event, attributes });
      });
    });
  }
  return events;
}
