// The host module `causeway`, ABI v1 (docs/contract-abi.md): every function a contract may
// import, with its exact signature. Pointers and lengths are i32 (usize on wasm32).
//
// Contracts use the typed helpers of ./index.ts; these raw declarations are there for the
// rare contract that manages its own buffers: import { state_get } from "./causeway/abi".

// Getters write into (pointer, capacity) and return the full length, or -1 when there is no
// value; when the length is above the capacity nothing is written and the caller asks again.

@external("causeway", "input_length")
export declare function input_length(): i32;

@external("causeway", "input_read")
export declare function input_read(pointer: usize): void;

@external("causeway", "context_read")
export declare function context_read(field: i32, pointer: usize, capacity: i32): i32;

@external("causeway", "return_data")
export declare function return_data(pointer: usize, length: i32): void;

@external("causeway", "revert")
export declare function revert(pointer: usize, length: i32): void;

@external("causeway", "state_get")
export declare function state_get(
  keyPointer: usize, keyLength: i32, valuePointer: usize, valueCapacity: i32,
): i32;

@external("causeway", "state_put")
export declare function state_put(
  keyPointer: usize, keyLength: i32, valuePointer: usize, valueLength: i32,
): void;

@external("causeway", "state_delete")
export declare function state_delete(keyPointer: usize, keyLength: i32): void;

@external("causeway", "state_range")
export declare function state_range(
  prefixPointer: usize, prefixLength: i32,
  startAfterPointer: usize, startAfterLength: i32,
  limit: i32, outPointer: usize, outCapacity: i32,
): i32;

@external("causeway", "emit")
export declare function emit(
  namePointer: usize, nameLength: i32, dataPointer: usize, dataLength: i32,
): void;

@external("causeway", "call")
export declare function call(
  contractPointer: usize, contractLength: i32,
  methodPointer: usize, methodLength: i32,
  inputPointer: usize, inputLength: i32,
  gas: i64,
): i32;

@external("causeway", "result_read")
export declare function result_read(pointer: usize, capacity: i32): i32;

@external("causeway", "hash")
export declare function hash(dataPointer: usize, dataLength: i32, outPointer: usize): void;

@external("causeway", "verify_signature")
export declare function verify_signature(
  algorithmPointer: usize, algorithmLength: i32,
  keyPointer: usize, keyLength: i32,
  messagePointer: usize, messageLength: i32,
  signaturePointer: usize, signatureLength: i32,
): i32;
