// A contract that exercises every part of the AssemblyScript SDK, for
// tests/toolchains/test_toolchains_assemblyscript.py (built once per session).
import {
  blockHeight, blockTimeMs, call, caller, chainId, contractName, emit, hash, input,
  organisation, readArguments, Reader, revert, setResult, state, transactionId,
  verifySignature, Writer,
} from "./causeway";

export { causeway_abi_v1 } from "./causeway";

// Every argument type, written back in the canonical form.
export function echo(): void {
  const reader = readArguments();
  setResult(
    new Writer()
      .bool(1, reader.bool(1))
      .uint32(2, reader.uint32(2))
      .uint64(3, reader.uint64(3))
      .int64(4, reader.int64(4))
      .string(5, reader.string(5))
      .bytes(6, reader.bytes(6)),
  );
}

// Which of the fields 1 to 6 are present, as a bit mask.
export function present(): void {
  const reader = readArguments();
  let mask: u32 = 0;
  for (let field: u32 = 1; field <= 6; field++) {
    if (reader.has(field)) mask |= 1 << (field - 1);
  }
  setResult(new Writer().uint32(1, mask));
}

export function context(): void {
  setResult(
    new Writer()
      .string(1, caller())
      .string(2, contractName())
      .uint64(3, blockHeight())
      .uint64(4, blockTimeMs())
      .bytes(5, transactionId())
      .string(6, chainId())
      .string(7, organisation()),
  );
}

// Writes `count` (1) values of `size` (2) bytes under "item/N", deletes "item/0", and returns
// what the SDK reads back: the whole range in pages of `page` (3), then a single value.
export function store(): void {
  const reader = readArguments();
  const count = <i32>reader.uint32(1);
  const size = <i32>reader.uint32(2);
  const page = <i32>reader.uint32(3);
  for (let index = 0; index < count; index++) {
    const value = new Uint8Array(size);
    value.fill(<u8>(65 + index));
    state.put("item/" + index.toString(), value);
  }
  state.remove("item/0");
  let keys = "";
  let total: u64 = 0;
  let after = new Uint8Array(0);
  while (true) {
    const entries = state.range("item/", after, page);
    for (let index = 0; index < entries.length; index++) {
      keys += entries[index].keyString() + ",";
      total += <u64>entries[index].value.length;
    }
    if (entries.length < page) break;
    after = entries[entries.length - 1].key;
  }
  const last = state.get("item/" + (count - 1).toString());
  setResult(
    new Writer()
      .string(1, keys)
      .uint64(2, total)
      .bool(3, state.has("item/0"))
      .bytes(4, last === null ? new Uint8Array(0) : last),
  );
}

// hash(1), and verify_signature("test", key 2, message 3, signature 4).
export function crypto(): void {
  const reader = readArguments();
  setResult(
    new Writer()
      .bytes(1, hash(reader.bytes(1)))
      .bool(2, verifySignature("test", reader.bytes(2), reader.bytes(3), reader.bytes(4))),
  );
}

// Calls contract (1) method (2) with input (3) and gas (4); returns the status and data.
export function forward(): void {
  const reader = readArguments();
  const result = call(reader.string(1), reader.string(2), reader.bytes(3), reader.uint64(4));
  setResult(new Writer().int64(1, result.status).bool(2, result.ok).bytes(3, result.data));
}

// Emits an event named (1) whose data is field 2 with the string (2).
export function announce(): void {
  const reader = readArguments();
  emit(reader.string(1), new Writer().string(2, reader.string(2)));
}

export function raw(): void {
  setResult(input());
}

export function fail_assert(): void {
  assert(false, "the probe asserts");
}

export function fail_index(): void {
  const values = new Array<i32>(1);
  setResult(new Writer().int64(1, values[readArguments().uint32(1)]));
}

export function fail_order(): void {
  setResult(new Writer().uint64(2, 1).uint64(1, 1));
}

export function fail_revert(): void {
  revert(`refused: ${readArguments().string(1)}`);
}

// A Reader over other bytes names them in its messages.
export function read_record(): void {
  setResult(new Writer().string(1, new Reader(readArguments().bytes(1), "record").string(1)));
}
