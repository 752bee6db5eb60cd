// The Causeway contract SDK for AssemblyScript, ABI v1 (docs/contract-abi.md).
//
// A contract is a module whose exported `() -> ()` functions are its methods. Each method
// reads its arguments with `readArguments()`, works on its state with `state`, reports with
// `emit`, and answers with `setResult` or ends with `revert`:
//
//     import { readArguments, setResult, state, Writer } from "./causeway";
//     export { causeway_abi_v1 } from "./causeway";
//
//     export function balance(): void {
//       const owner = readArguments().string(1);
//       setResult(new Writer().uint64(1, state.getU64("balance/" + owner)));
//     }
//
// Data parameters typed `T` accept a Writer (its message), a Uint8Array or a string (UTF-8);
// state keys accept a Uint8Array or a string.
import * as abi from "./abi";
import { revert } from "./revert";
import { Reader, Writer } from "./wire";

export { Reader, Writer, isValidUtf8 } from "./wire";
export { revert } from "./revert";

// The version marker the chain looks for. Every contract re-exports it:
//     export { causeway_abi_v1 } from "./causeway";
export function causeway_abi_v1(): void {}

// Capacity of the first attempt of a getter; a longer value costs a second host call.
const FIRST_CAPACITY: i32 = 256;
// ResultStatus OK (proto/causeway/types/v1/types.proto).
const STATUS_OK: i32 = 1;
const HASH_LENGTH: i32 = 32;

// --- Input and result ---------------------------------------------------------------------

// The call's input: its encoded arguments.
export function input(): Uint8Array {
  const length = abi.input_length();
  const data = new Uint8Array(length);
  if (length > 0) abi.input_read(data.dataStart);
  return data;
}

// The call's arguments, read by field number: argument 1 is field 1, and so on.
// A malformed input reverts with "malformed input: ...".
export function readArguments(): Reader {
  return new Reader(input(), "input");
}

// Sets the call's result (the last call wins), usually a Writer with the `returns` fields.
export function setResult<T>(result: T): void {
  const data = dataOf<T>(result);
  abi.return_data(data.dataStart, data.length);
}

// --- Context ------------------------------------------------------------------------------

const CONTEXT_CALLER = 0;
const CONTEXT_CONTRACT = 1;
const CONTEXT_HEIGHT = 2;
const CONTEXT_TIME = 3;
const CONTEXT_TRANSACTION = 4;
const CONTEXT_CHAIN = 5;
const CONTEXT_ORGANISATION = 6;

// Who called: the sending member's id, or `contract:NAME` when contract NAME called.
export function caller(): string {
  return contextString(CONTEXT_CALLER);
}

// This contract's name.
export function contractName(): string {
  return contextString(CONTEXT_CONTRACT);
}

// The block's height.
export function blockHeight(): u64 {
  return contextU64(CONTEXT_HEIGHT);
}

// The block's time, milliseconds since the Unix epoch (the same on every validator).
export function blockTimeMs(): u64 {
  return contextU64(CONTEXT_TIME);
}

// The transaction's id.
export function transactionId(): Uint8Array {
  return contextRead(CONTEXT_TRANSACTION);
}

// The chain's id.
export function chainId(): string {
  return contextString(CONTEXT_CHAIN);
}

// The sending member's organisation.
export function organisation(): string {
  return contextString(CONTEXT_ORGANISATION);
}

function contextRead(field: i32): Uint8Array {
  let buffer = new Uint8Array(FIRST_CAPACITY);
  let length = abi.context_read(field, buffer.dataStart, buffer.length);
  if (length > buffer.length) {
    buffer = new Uint8Array(length);
    length = abi.context_read(field, buffer.dataStart, buffer.length);
  }
  if (length < 0) return new Uint8Array(0);
  if (length > buffer.length) revert(`context field ${field} changed between two reads`);
  return buffer.subarray(0, length);
}

function contextString(field: i32): string {
  const data = contextRead(field);
  return String.UTF8.decodeUnsafe(data.dataStart, <usize>data.length);
}

function contextU64(field: i32): u64 {
  const data = contextRead(field);
  if (data.length != 8) revert(`context field ${field} is ${data.length} bytes, not 8`);
  return load<u64>(data.dataStart);
}

// --- State --------------------------------------------------------------------------------

// One entry of a `state.range` page.
export class StateEntry {
  constructor(public key: Uint8Array, public value: Uint8Array) {}

  keyString(): string {
    return String.UTF8.decodeUnsafe(this.key.dataStart, <usize>this.key.length);
  }

  valueString(): string {
    return String.UTF8.decodeUnsafe(this.value.dataStart, <usize>this.value.length);
  }
}

// The contract's own key-value state (keys of 1 to 256 bytes, values up to 65,536 bytes).
// Keys are a string (its UTF-8) or a Uint8Array.
export namespace state {
  // The value, or null when there is none.
  export function get<K>(key: K): Uint8Array | null {
    const keyData = keyOf<K>(key);
    let buffer = new Uint8Array(FIRST_CAPACITY);
    let length = abi.state_get(keyData.dataStart, keyData.length, buffer.dataStart, buffer.length);
    if (length > buffer.length) {
      buffer = new Uint8Array(length);
      length = abi.state_get(keyData.dataStart, keyData.length, buffer.dataStart, buffer.length);
      if (length > buffer.length) revert("a state value changed between two reads");
    }
    if (length < 0) return null;
    return buffer.subarray(0, length);
  }

  export function has<K>(key: K): bool {
    return get<K>(key) !== null;
  }

  export function put<K, V>(key: K, value: V): void {
    const keyData = keyOf<K>(key);
    const valueData = dataOf<V>(value);
    abi.state_put(keyData.dataStart, keyData.length, valueData.dataStart, valueData.length);
  }

  // Deletes the value (nothing happens when there is none). `delete` is a reserved word.
  export function remove<K>(key: K): void {
    const keyData = keyOf<K>(key);
    abi.state_delete(keyData.dataStart, keyData.length);
  }

  // A u64 stored as 8 bytes little-endian; `otherwise` when there is none.
  export function getU64<K>(key: K, otherwise: u64 = 0): u64 {
    const value = get<K>(key);
    if (value === null) return otherwise;
    if (value.length != 8) revert(`state value is ${value.length} bytes, not a u64's 8`);
    return load<u64>(value.dataStart);
  }

  export function putU64<K>(key: K, value: u64): void {
    const data = new Uint8Array(8);
    store<u64>(data.dataStart, value);
    put<K, Uint8Array>(key, data);
  }

  // A string stored as UTF-8, or null when there is none.
  export function getString<K>(key: K): string | null {
    const value = get<K>(key);
    if (value === null) return null;
    return String.UTF8.decodeUnsafe(value.dataStart, <usize>value.length);
  }

  // One page of at most `limit` entries whose keys start with `prefix`, in key order, after
  // the key `startAfter` (empty: from the start). To page on, pass the last key of a page as
  // the next `startAfter`; a page shorter than `limit` is the last.
  export function range<P, S>(prefix: P, startAfter: S, limit: i32): Array<StateEntry> {
    const prefixData = keyOf<P>(prefix);
    const startAfterData = keyOf<S>(startAfter);
    let capacity = FIRST_CAPACITY * 16;
    let page = new Uint8Array(capacity);
    let length = abi.state_range(
      prefixData.dataStart, prefixData.length, startAfterData.dataStart, startAfterData.length,
      limit, page.dataStart, page.length,
    );
    if (length > page.length) {
      page = new Uint8Array(length);
      length = abi.state_range(
        prefixData.dataStart, prefixData.length, startAfterData.dataStart, startAfterData.length,
        limit, page.dataStart, page.length,
      );
      if (length > page.length) revert("a state page changed between two reads");
    }
    return parsePage(page.subarray(0, max(length, 0)));
  }
}

// A page is a sequence of entries: u32 key length, key, u32 value length, value (u32 LE).
function parsePage(page: Uint8Array): Array<StateEntry> {
  const entries = new Array<StateEntry>();
  let position = 0;
  while (position < page.length) {
    const key = pageField(page, position);
    position += 4 + key.length;
    const value = pageField(page, position);
    position += 4 + value.length;
    entries.push(new StateEntry(key, value));
  }
  return entries;
}

function pageField(page: Uint8Array, position: i32): Uint8Array {
  if (page.length - position < 4) revert("the host returned a malformed state page");
  const length = load<u32>(page.dataStart + <usize>position);
  if (<u64>length > <u64>(page.length - position - 4)) {
    revert("the host returned a malformed state page");
  }
  return page.subarray(position + 4, position + 4 + <i32>length);
}

// --- Events, calls, hashing, signatures ---------------------------------------------------

// An event of this contract: a name (1 to 64 characters) and its data, usually a Writer with
// the fields the interface file lists for the event.
export function emit<T>(name: string, data: T): void {
  const nameData = Uint8Array.wrap(String.UTF8.encode(name, false, String.UTF8.ErrorMode.REPLACE));
  const eventData = dataOf<T>(data);
  abi.emit(nameData.dataStart, nameData.length, eventData.dataStart, eventData.length);
}

// What a call to another contract gave.
export class CallResult {
  constructor(public status: i32, public data: Uint8Array) {}

  get ok(): bool {
    return this.status == STATUS_OK;
  }

  // The callee's result fields (when ok).
  reader(): Reader {
    return new Reader(this.data, "result");
  }

  // The callee's message (when it failed).
  message(): string {
    return String.UTF8.decodeUnsafe(this.data.dataStart, <usize>this.data.length);
  }
}

// Calls `method` of `contract` (user or native) with the input, with at most `gas` gas (0: all
// that is left). A callee that fails has its writes undone and this call goes on: check `ok`.
export function call<T>(contract: string, method: string, input: T, gas: u64 = 0): CallResult {
  const contractData = Uint8Array.wrap(String.UTF8.encode(contract, false, String.UTF8.ErrorMode.REPLACE));
  const methodData = Uint8Array.wrap(String.UTF8.encode(method, false, String.UTF8.ErrorMode.REPLACE));
  const inputData = dataOf<T>(input);
  const status = abi.call(
    contractData.dataStart, contractData.length, methodData.dataStart, methodData.length,
    inputData.dataStart, inputData.length, <i64>gas,
  );
  let buffer = new Uint8Array(FIRST_CAPACITY);
  let length = abi.result_read(buffer.dataStart, buffer.length);
  if (length > buffer.length) {
    buffer = new Uint8Array(length);
    length = abi.result_read(buffer.dataStart, buffer.length);
  }
  return new CallResult(status, buffer.subarray(0, max(length, 0)));
}

// The 32-byte hash of the data with the chain's hash function (SHA-256, or SM3 on gm chains).
export function hash<T>(data: T): Uint8Array {
  const bytes = dataOf<T>(data);
  const out = new Uint8Array(HASH_LENGTH);
  abi.hash(bytes.dataStart, bytes.length, out.dataStart);
  return out;
}

// True if `signature` over `message` is valid for `publicKey` (raw, as in member records).
// Algorithm: "ecdsa-p256", "ed25519" or "sm2".
export function verifySignature<T>(
  algorithm: string, publicKey: Uint8Array, message: T, signature: Uint8Array,
): bool {
  const algorithmData = Uint8Array.wrap(String.UTF8.encode(algorithm));
  const messageData = dataOf<T>(message);
  return abi.verify_signature(
    algorithmData.dataStart, algorithmData.length, publicKey.dataStart, publicKey.length,
    messageData.dataStart, messageData.length, signature.dataStart, signature.length,
  ) == 1;
}

// --- Bytes of the data parameters ---------------------------------------------------------

function dataOf<T>(value: T): Uint8Array {
  if (value instanceof Writer) {
    return changetype<Writer>(value).finish();
  } else if (value instanceof Uint8Array) {
    return changetype<Uint8Array>(value);
  } else if (isString<T>()) {
    return Uint8Array.wrap(
      String.UTF8.encode(changetype<string>(value), false, String.UTF8.ErrorMode.REPLACE),
    );
  } else {
    ERROR("data must be a Writer, a Uint8Array or a string");
    return unreachable();
  }
}

function keyOf<K>(key: K): Uint8Array {
  if (key instanceof Uint8Array) {
    return changetype<Uint8Array>(key);
  } else if (isString<K>()) {
    return Uint8Array.wrap(
      String.UTF8.encode(changetype<string>(key), false, String.UTF8.ErrorMode.REPLACE),
    );
  } else {
    ERROR("a state key must be a string or a Uint8Array");
    return unreachable();
  }
}
