// A counter: the smallest useful contract. It keeps one number in its state.
//
// Every exported `() -> ()` function is a method. A method reads its arguments with
// readArguments() (argument 1 is field 1, ...), and answers with setResult(); the argument and
// result types are listed in ../interface.json, which the CLI and the SDK read.
import { readArguments, revert, setResult, state, Writer } from "./causeway";

// The chain checks for this marker: the module speaks ABI v1.
export { causeway_abi_v1 } from "./causeway";

// The one state key of this contract (keys are private to the contract).
const COUNT = "count";

// Runs once, at deployment: the counter starts at `start` (0 when left out).
export function init(): void {
  const start = readArguments().uint64(1);
  state.putU64(COUNT, start);
}

// Adds one and returns the new value.
export function increment(): void {
  const count = state.getU64(COUNT);
  // A revert undoes every write of the call and fails the transaction with this message.
  if (count == u64.MAX_VALUE) revert("the counter is at its maximum");
  state.putU64(COUNT, count + 1);
  setResult(new Writer().uint64(1, count + 1));
}

// The current value (read-only: the CLI runs it as a query).
export function get(): void {
  setResult(new Writer().uint64(1, state.getU64(COUNT)));
}
