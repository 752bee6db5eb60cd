// The canonical protobuf encoding of the few messages the browser hashes or signs, rebuilt from
// the gateway's protobuf JSON (lowerCamelCase names, bytes in base64, 64-bit integers as strings,
// enums by name), and a decoder for the transaction bodies the gateway sends as bytes.
//
// Canonical means what causeway.types.encode writes: fields in number order, a field holding its
// default value (0, "", empty bytes, false, the enum's zero) left out, a message field written
// whenever it is present (the JSON has it, even as {}), repeated fields one record per element.
// The schemas mirror proto/causeway/types/v1/types.proto; a test hashes headers and results in
// the browser and compares them with the node's.

import { concatenate, fromBase64, fromText } from "./bytes.js";

const RESULT_STATUSES = [
  "RESULT_STATUS_UNSPECIFIED",
  "RESULT_STATUS_OK",
  "RESULT_STATUS_INVALID_ARGUMENT",
  "RESULT_STATUS_PERMISSION_DENIED",
  "RESULT_STATUS_NOT_FOUND",
  "RESULT_STATUS_INSUFFICIENT_FUNDS",
  "RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED",
  "RESULT_STATUS_UNKNOWN_CONTRACT",
  "RESULT_STATUS_UNKNOWN_METHOD",
  "RESULT_STATUS_OUT_OF_GAS",
  "RESULT_STATUS_CONFLICT",
  "RESULT_STATUS_CONTRACT_REVERTED",
  "RESULT_STATUS_CONTRACT_TRAPPED",
  "RESULT_STATUS_CONTRACT_FROZEN",
  "RESULT_STATUS_CONTRACT_REVOKED",
];

// [number, JSON name, type, options]; a type is a scalar name or another schema.
const EVENT_ATTRIBUTE = [
  [1, "key", "string"],
  [2, "value", "string"],
];
const EVENT = [
  [1, "contract", "string"],
  [2, "name", "string"],
  [3, "attributes", EVENT_ATTRIBUTE, { repeated: true }],
  [4, "data", "bytes"],
];
const COST = [
  [1, "gasUsed", "uint64"],
  [2, "reads", "uint32"],
  [3, "writes", "uint32"],
  [4, "bytesRead", "uint64"],
  [5, "bytesWritten", "uint64"],
];
export const SCHEMAS = {
  BlockHeader: [
    [1, "version", "uint32"],
    [2, "chainId", "string"],
    [3, "height", "uint64"],
    [4, "previousHash", "bytes"],
    [5, "timeMs", "int64"],
    [6, "proposer", "string"],
    [7, "transactionsRoot", "bytes"],
    [8, "resultsRoot", "bytes"],
    [9, "stateRoot", "bytes"],
    [10, "validatorSetHash", "bytes"],
    [11, "nextValidatorSetHash", "bytes"],
    [12, "transactionCount", "uint32"],
    [13, "genesisHash", "bytes"],
  ],
  CommitVote: [
    [1, "height", "uint64"],
    [2, "round", "uint32"],
    [3, "blockHash", "bytes"],
  ],
  SignDocument: [
    [1, "version", "uint32"],
    [2, "domain", "string"],
    [3, "chainId", "string"],
    [4, "payload", "bytes"],
  ],
  ValidatorSet: [
    [
      1,
      "validators",
      [
        [1, "memberId", "string"],
        [2, "algorithm", "string"],
        [3, "publicKey", "bytes"],
        [4, "votingPower", "uint64"],
      ],
      { repeated: true },
    ],
  ],
  TransactionResult: [
    [1, "transactionId", "bytes"],
    [2, "status", "enum", { names: RESULT_STATUSES }],
    [3, "returnValue", "bytes"],
    [4, "events", EVENT, { repeated: true }],
    [5, "error", "string"],
    [6, "cost", COST],
  ],
  // The proposals contract's record (proto/causeway/contracts/v1/proposals.proto): the fields
  // shown; calls and votes are left out (their events list the votes).
  Proposal: [
    [1, "id", "uint64"],
    [2, "title", "string"],
    [3, "description", "string"],
    [5, "deadlineMs", "int64"],
    [6, "creator", "string"],
    [7, "createdHeight", "uint64"],
    [9, "status", "uint32"],
    [11, "executedHeight", "uint64"],
    [14, "failure", "string"],
    [16, "creatorOrganisation", "string"],
  ],
  TransactionBody: [
    [1, "version", "uint32"],
    [2, "chainId", "string"],
    [3, "nonce", "bytes"],
    [4, "timestampMs", "int64"],
    [5, "expiryMs", "int64"],
    [6, "contract", "string"],
    [7, "method", "string"],
    [8, "arguments", "bytes"],
    [9, "sender", "string"],
  ],
};

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const UINT64_LIMIT = 1n << 64n;

function varint(value) {
  let remaining = BigInt(value);
  if (remaining < 0n) remaining += UINT64_LIMIT; // negative int64: ten bytes, two's complement
  const bytes = [];
  do {
    let byte = Number(remaining & 0x7fn);
    remaining >>= 7n;
    if (remaining > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (remaining > 0n);
  return Uint8Array.from(bytes);
}

function tag(number, wireType) {
  return varint((number << 3) | wireType);
}

function lengthDelimited(number, payload) {
  return concatenate(tag(number, WIRE_LENGTH_DELIMITED), varint(payload.length), payload);
}

function integerOf(value, what) {
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) return BigInt(value);
  throw new Error(`${what} is not an integer: ${JSON.stringify(value)}`);
}

function encodeField(number, name, type, options, value) {
  if (typeof type !== "string") return lengthDelimited(number, encodeMessage(type, value));
  switch (type) {
    case "string": {
      const bytes = fromText(value);
      return bytes.length ? lengthDelimited(number, bytes) : new Uint8Array(0);
    }
    case "bytes": {
      const bytes = fromBase64(value);
      return bytes.length ? lengthDelimited(number, bytes) : new Uint8Array(0);
    }
    case "uint32":
    case "uint64":
    case "int64": {
      const integer = integerOf(value, name);
      return integer === 0n ? new Uint8Array(0) : concatenate(tag(number, WIRE_VARINT), varint(integer));
    }
    case "enum": {
      const index = typeof value === "number" ? value : options.names.indexOf(value);
      if (index < 0) throw new Error(`${name}: unknown enum value ${JSON.stringify(value)}`);
      return index === 0 ? new Uint8Array(0) : concatenate(tag(number, WIRE_VARINT), varint(index));
    }
    case "bool":
      return value ? concatenate(tag(number, WIRE_VARINT), varint(1)) : new Uint8Array(0);
    default:
      throw new Error(`unknown field type ${type}`);
  }
}

// The canonical bytes of `json` (one message in protobuf JSON) under `schema`.
export function encodeMessage(schema, json) {
  const parts = [];
  for (const [number, name, type, options = {}] of schema) {
    const value = json[name];
    if (value === undefined || value === null) continue;
    if (options.repeated) {
      for (const item of value) {
        parts.push(
          typeof type === "string"
            ? encodeField(number, name, type, options, item)
            : lengthDelimited(number, encodeMessage(type, item)),
        );
      }
    } else {
      parts.push(encodeField(number, name, type, options, value));
    }
  }
  return concatenate(...parts);
}

export function encode(messageName, json) {
  return encodeMessage(SCHEMAS[messageName], json);
}

function readVarint(bytes, position) {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (position.offset >= bytes.length) throw new Error("truncated varint");
    const byte = bytes[position.offset];
    position.offset += 1;
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return value;
    shift += 7n;
    if (shift > 63n) throw new Error("varint longer than ten bytes");
  }
}

// A decoded message as an object of JSON-like values (bytes as Uint8Array, integers as strings
// for 64-bit types and numbers for 32-bit ones). Unknown fields are skipped.
export function decodeMessage(schema, bytes) {
  const byNumber = new Map(schema.map((field) => [field[0], field]));
  const result = {};
  const position = { offset: 0 };
  while (position.offset < bytes.length) {
    const key = Number(readVarint(bytes, position));
    const number = key >> 3;
    const wireType = key & 7;
    let value;
    if (wireType === WIRE_VARINT) {
      value = readVarint(bytes, position);
    } else if (wireType === WIRE_LENGTH_DELIMITED) {
      const length = Number(readVarint(bytes, position));
      if (position.offset + length > bytes.length) throw new Error("truncated field");
      value = bytes.subarray(position.offset, position.offset + length);
      position.offset += length;
    } else if (wireType === 1 || wireType === 5) {
      position.offset += wireType === 1 ? 8 : 4;
      continue;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
    const field = byNumber.get(number);
    if (!field) continue;
    const [, name, type] = field;
    if (type === "string") value = new TextDecoder().decode(value);
    else if (type === "uint32") value = Number(value);
    else if (type === "int64") value = BigInt.asIntN(64, value).toString();
    else if (type === "uint64") value = value.toString();
    result[name] = value;
  }
  return result;
}

export function decode(messageName, bytes) {
  return decodeMessage(SCHEMAS[messageName], bytes);
}
