// A registry: anyone registers a free name with a value; the name's owner alone updates it.
//
// Records live in the contract's state under "record/" + name, each encoded with the same
// protobuf Writer as arguments and results: owner (1), value (2). `list` pages through them in
// name order with state.range.
import {
  caller, emit, readArguments, Reader, revert, setResult, state, Writer,
} from "./causeway";

// The chain checks for this marker: the module speaks ABI v1.
export { causeway_abi_v1 } from "./causeway";

const RECORD_PREFIX = "record/";
// A state key is at most 256 bytes: the prefix and the name must fit.
const NAME_BYTES_MAX = 128;
const PAGE_DEFAULT = 10;
const PAGE_MAX = 100;

function recordKey(name: string): string {
  return RECORD_PREFIX + name;
}

function checkName(name: string): void {
  const length = String.UTF8.byteLength(name);
  if (length == 0 || length > NAME_BYTES_MAX) {
    revert(`the name must be 1 to ${NAME_BYTES_MAX} bytes`);
  }
  // `list` returns names one per line.
  if (name.includes("\n")) revert("the name must not contain a line break");
}

// The event data of `registered` and `updated`: name (1), owner (2), value (3).
function recordEvent(name: string, owner: string, value: string): Writer {
  return new Writer().string(1, name).string(2, owner).string(3, value);
}

// Registers `name` with `value`, owned by the caller. A name is registered once.
export function register(): void {
  const input = readArguments();
  const name = input.string(1);
  const value = input.string(2);
  checkName(name);
  if (state.has(recordKey(name))) revert(`register: ${name} is already registered`);
  const owner = caller();
  state.put(recordKey(name), new Writer().string(1, owner).string(2, value));
  emit("registered", recordEvent(name, owner, value));
}

// Sets the value of `name`; only its owner may.
export function update(): void {
  const input = readArguments();
  const name = input.string(1);
  const value = input.string(2);
  const owner = recordOwner(name, "update");
  if (owner != caller()) revert(`update: ${name} belongs to ${owner}`);
  state.put(recordKey(name), new Writer().string(1, owner).string(2, value));
  emit("updated", recordEvent(name, owner, value));
}

// The owner and value of `name`.
export function get(): void {
  const name = readArguments().string(1);
  const record = readRecord(name, "get");
  setResult(new Writer().string(1, record.string(1)).string(2, record.string(2)));
}

// At most `limit` names (0: 10; at most 100) after `start_after`, in order, one per line, and
// `next`: the name to pass as `start_after` for the next page, or "" after the last page.
export function list(): void {
  const input = readArguments();
  const startAfter = input.string(1);
  let limit = <i32>input.uint32(2);
  if (limit == 0) limit = PAGE_DEFAULT;
  if (limit > PAGE_MAX) revert(`list: the limit is at most ${PAGE_MAX}`);
  // One entry more than asked tells whether another page follows.
  const entries = state.range(
    RECORD_PREFIX, startAfter.length > 0 ? recordKey(startAfter) : "", limit + 1,
  );
  const names = new Array<string>();
  for (let index = 0; index < min(entries.length, limit); index++) {
    names.push(entries[index].keyString().substring(RECORD_PREFIX.length));
  }
  const next = entries.length > limit ? names[limit - 1] : "";
  setResult(new Writer().string(1, names.join("\n")).string(2, next));
}

function readRecord(name: string, method: string): Reader {
  const record = state.get(recordKey(name));
  if (record === null) {
    revert(`${method}: ${name} is not registered`);
    return unreachable();
  }
  return new Reader(record, "record");
}

function recordOwner(name: string, method: string): string {
  return readRecord(name, method).string(1);
}
