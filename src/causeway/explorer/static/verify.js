// The light client's checks, in the browser, on what the node answered: nothing here trusts the
// node. Each check mirrors causeway.light / causeway.types / causeway.state (docs/light-client.md,
// docs/state.md) and returns {name, ok, detail}; verifyTransaction and verifyStateEntry run
// them all and say "verified" only when every one passed.

import { concatenate, equalBytes, fromBase64, toHex } from "./bytes.js";
import { hashOfProfile } from "./hashing.js";
import { encode } from "./protobuf.js";
import { sm2Verify } from "./sm2.js";

const LIST_LEAF_PREFIX = Uint8Array.of(0);
const LIST_NODE_PREFIX = Uint8Array.of(1);
const STATE_LEAF_PREFIX = Uint8Array.of(0);
const STATE_INTERNAL_PREFIX = Uint8Array.of(1);
const HASH_BYTES = 32;
const KEY_HASH_BITS = HASH_BYTES * 8;
const SIGN_DOCUMENT_VERSION = 1;

function check(name, ok, detail) {
  return { name, ok: Boolean(ok), detail };
}

// How many siblings the proof of leaf `index` of `total` has (causeway.types.merkle).
function listProofLength(index, total) {
  let length = 0;
  let position = index;
  let last = total - 1;
  while (last > 0) {
    if (position !== last || position % 2) length += 1;
    position = Math.floor(position / 2);
    last = Math.floor(last / 2);
  }
  return length;
}

// The root a Merkle list proof (RFC 6962 shape) leads to from `leaf`, or an Error's message.
export async function listProofRoot(leaf, proof, hash) {
  const index = Number(proof.index || 0);
  const total = Number(proof.total || 0);
  const siblings = (proof.siblings || []).map(fromBase64);
  if (index >= total) throw new Error(`index ${index} is outside a list of ${total}`);
  const expected = listProofLength(index, total);
  if (siblings.length !== expected) {
    throw new Error(`proof has ${siblings.length} siblings; leaf ${index} of ${total} needs ${expected}`);
  }
  let node = await hash(concatenate(LIST_LEAF_PREFIX, leaf));
  let position = index;
  let last = total - 1;
  let next = 0;
  while (last > 0) {
    if (position % 2) {
      node = await hash(concatenate(LIST_NODE_PREFIX, siblings[next], node));
      next += 1;
    } else if (position !== last) {
      node = await hash(concatenate(LIST_NODE_PREFIX, node, siblings[next]));
      next += 1;
    }
    position = Math.floor(position / 2);
    last = Math.floor(last / 2);
  }
  return node;
}

// The root a state proof (sparse Merkle tree over hash(key)) leads to, for `value` (Uint8Array)
// or, with value null, for the key's absence.
export async function stateProofRoot(key, value, proof, hash) {
  const siblings = (proof.siblings || []).map(fromBase64);
  if (siblings.length > KEY_HASH_BITS) throw new Error("state proof is deeper than the key hash");
  if (siblings.some((sibling) => sibling.length !== HASH_BYTES)) {
    throw new Error("a state proof sibling is not 32 bytes");
  }
  const keyHash = await hash(key);
  const leafKeyHash = fromBase64(proof.leafKeyHash);
  const leafValueHash = fromBase64(proof.leafValueHash);
  let node;
  if (!leafKeyHash.length && !leafValueHash.length) {
    if (value !== null) throw new Error("the proof shows the key absent, but a value was claimed");
    node = new Uint8Array(HASH_BYTES);
  } else {
    if (leafKeyHash.length !== HASH_BYTES || leafValueHash.length !== HASH_BYTES) {
      throw new Error("the proof's leaf hashes are not 32 bytes each");
    }
    if (value !== null) {
      if (!equalBytes(leafKeyHash, keyHash)) throw new Error("the proof ends in another key's leaf");
      if (!equalBytes(leafValueHash, await hash(value))) throw new Error("the proof's leaf holds another value");
    } else {
      if (equalBytes(leafKeyHash, keyHash)) throw new Error("the proof shows the key present");
      for (let bit = 0; bit < siblings.length; bit += 1) {
        if (bitOf(leafKeyHash, bit) !== bitOf(keyHash, bit)) {
          throw new Error("the proof ends in a leaf that is not on the key's path");
        }
      }
    }
    node = await hash(concatenate(STATE_LEAF_PREFIX, leafKeyHash, leafValueHash));
  }
  for (let level = siblings.length - 1; level >= 0; level -= 1) {
    node = bitOf(keyHash, level)
      ? await hash(concatenate(STATE_INTERNAL_PREFIX, siblings[level], node))
      : await hash(concatenate(STATE_INTERNAL_PREFIX, node, siblings[level]));
  }
  return node;
}

function bitOf(bytes, bit) {
  return (bytes[bit >> 3] >> (7 - (bit & 7))) & 1;
}

async function attempt(name, body) {
  try {
    return await body();
  } catch (error) {
    return check(name, false, error.message);
  }
}

// DER ECDSA signature (SEQUENCE of two INTEGERs) to the 64 bytes r || s that WebCrypto takes.
export function derToRaw(signature) {
  const fail = () => {
    throw new Error("the signature is not DER");
  };
  if (signature[0] !== 0x30) fail();
  let offset = 2;
  if (signature[1] & 0x80) offset = 2 + (signature[1] & 0x7f);
  const integers = [];
  for (let count = 0; count < 2; count += 1) {
    if (signature[offset] !== 0x02) fail();
    const length = signature[offset + 1];
    let integer = signature.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    while (integer.length > 32 && integer[0] === 0) integer = integer.subarray(1);
    if (integer.length > 32) fail();
    const padded = new Uint8Array(32);
    padded.set(integer, 32 - integer.length);
    integers.push(padded);
  }
  return concatenate(...integers);
}

// Whether `signature` is `publicKey`'s signature of `data` (the raw key bytes a validator set
// holds: an uncompressed point for ECDSA P-256 and SM2, 32 bytes for Ed25519); null for an
// algorithm this page does not know.
export async function verifySignature(algorithm, publicKey, signature, data) {
  if (algorithm === "ecdsa-p256") {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, derToRaw(signature), data);
  }
  if (algorithm === "ed25519") {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);
  }
  if (algorithm === "sm2") return sm2Verify(publicKey, signature, data);
  // An algorithm this page does not know: said so rather than pretended.
  return null;
}

function quorumMet(consensus, signed, total) {
  if (consensus === "raft") return 2n * signed > total;
  return 3n * signed > 2n * total;
}

// The header's hash, the certificate for it, the validator set it names and, where WebCrypto
// can (ECDSA P-256, Ed25519), every signature and the quorum. `validatorSet` is the
// GetValidatorSetResponse's validatorSet for the header's height.
export async function headerChecks({ header, certificate, validatorSet, status }) {
  const hash = hashOfProfile(status.cryptoProfile);
  const checks = [];
  const blockHash = await hash(encode("BlockHeader", header));
  checks.push(check("header of the chain", header.chainId === status.chainId, `chain ${header.chainId}`));
  checks.push(
    check(
      "certificate is for this header",
      certificate && String(certificate.height) === String(header.height) && equalBytes(fromBase64(certificate.blockHash), blockHash),
      `block hash ${toHex(blockHash)}`,
    ),
  );
  const setHash = await hash(encode("ValidatorSet", validatorSet));
  checks.push(
    check(
      "validator set is the header's",
      equalBytes(setHash, fromBase64(header.validatorSetHash)),
      `validator set hash ${toHex(setHash)}`,
    ),
  );
  const validators = new Map((validatorSet.validators || []).map((validator) => [validator.memberId, validator]));
  const voteBytes = encode("CommitVote", { height: certificate.height, round: certificate.round, blockHash: certificate.blockHash });
  const signBytes = encode("SignDocument", { version: SIGN_DOCUMENT_VERSION, domain: "commit", chainId: header.chainId, payload: btoaBytes(voteBytes) });
  let total = 0n;
  for (const validator of validators.values()) total += BigInt(validator.votingPower || 0);
  let signedPower = 0n;
  const seen = new Set();
  for (const entry of certificate.signatures || []) {
    const validator = validators.get(entry.validator);
    if (!validator || seen.has(entry.validator)) {
      checks.push(check(`signature of ${entry.validator}`, false, "not a validator of this height, or twice"));
      continue;
    }
    seen.add(entry.validator);
    const valid = await attempt(`signature of ${entry.validator}`, async () =>
      verifySignature(validator.algorithm, fromBase64(validator.publicKey), fromBase64(entry.signature), signBytes),
    );
    if (valid === null) {
      checks.push(check(`signature of ${entry.validator}`, false, `${validator.algorithm}: not an algorithm this page can check`));
    } else if (typeof valid === "object") {
      checks.push(valid);
    } else {
      if (valid) signedPower += BigInt(validator.votingPower || 0);
      checks.push(check(`signature of ${entry.validator}`, valid, `${validator.algorithm} over the commit vote`));
    }
  }
  checks.push(
    check(
      "quorum of voting power",
      total > 0n && quorumMet(status.consensus, signedPower, total),
      `${signedPower} of ${total} verified (${status.consensus})`,
    ),
  );
  return checks;
}

async function headerChecksOrFailure(inputs) {
  const outcome = await attempt("header", () => headerChecks(inputs));
  return Array.isArray(outcome) ? outcome : [outcome];
}

function btoaBytes(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// Every check of a GetTransactionResponse: the transaction and its result against the header's
// roots (and count), then the header against its certificate and validator set.
export async function verifyTransaction({ answer, transactionIdHex, certificate, validatorSet, status }) {
  const hash = hashOfProfile(status.cryptoProfile);
  const header = answer.header;
  const checks = [];
  const body = fromBase64(answer.transaction.body);
  const identifier = await hash(body);
  checks.push(check("transaction id is the hash of its body", toHex(identifier) === transactionIdHex.toLowerCase(), toHex(identifier)));
  checks.push(
    await attempt("transaction proof", async () => {
      const proof = answer.transactionProof;
      if (String(proof.total) !== String(header.transactionCount)) throw new Error(`proof is for a list of ${proof.total}, the header counts ${header.transactionCount}`);
      const root = await listProofRoot(identifier, proof, hash);
      return check("transaction proof", equalBytes(root, fromBase64(header.transactionsRoot)), "against transactions_root");
    }),
  );
  checks.push(
    await attempt("result proof", async () => {
      const proof = answer.resultProof;
      if (String(proof.total) !== String(header.transactionCount)) throw new Error(`proof is for a list of ${proof.total}, the header counts ${header.transactionCount}`);
      if (String(proof.index) !== String(answer.transactionProof.index)) throw new Error("the result proof is for another position");
      const root = await listProofRoot(encode("TransactionResult", answer.result), proof, hash);
      return check("result proof", equalBytes(root, fromBase64(header.resultsRoot)), "against results_root");
    }),
  );
  checks.push(...(await headerChecksOrFailure({ header, certificate, validatorSet, status })));
  return { ok: checks.every((item) => item.ok), checks };
}

// Every check of a GetStateResponse for `keyBytes`: the value (or its absence) against the
// header's state root, then the header itself.
export async function verifyStateEntry({ answer, keyBytes, certificate, validatorSet, status }) {
  const hash = hashOfProfile(status.cryptoProfile);
  const header = answer.header;
  const checks = [];
  checks.push(
    await attempt("state proof", async () => {
      const value = answer.found ? fromBase64(answer.value) : null;
      const root = await stateProofRoot(keyBytes, value, answer.proof, hash);
      return check("state proof", equalBytes(root, fromBase64(header.stateRoot)), answer.found ? "value against state_root" : "absence against state_root");
    }),
  );
  checks.push(...(await headerChecksOrFailure({ header, certificate, validatorSet, status })));
  return { ok: checks.every((item) => item.ok), checks };
}

