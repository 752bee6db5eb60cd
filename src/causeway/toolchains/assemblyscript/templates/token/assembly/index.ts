// A token: a fixed supply, minted once to whoever deploys the contract, moved by transfers.
//
// Balances live in the contract's state under "balance/" + the owner's member id. Every
// change of a balance emits a `transfer` event, as listed in ../interface.json.
import { caller, emit, readArguments, revert, setResult, state, Writer } from "./causeway";

// The chain checks for this marker: the module speaks ABI v1.
export { causeway_abi_v1 } from "./causeway";

const TOTAL_SUPPLY = "total_supply";

function balanceKey(owner: string): string {
  return "balance/" + owner;
}

// The event data of `transfer`: from (1), to (2), amount (3). A mint comes from "".
function transferEvent(from: string, to: string, amount: u64): Writer {
  return new Writer().string(1, from).string(2, to).uint64(3, amount);
}

// Runs once, at deployment: mints `supply` to the deployer.
export function init(): void {
  const supply = readArguments().uint64(1);
  const owner = caller();
  state.putU64(TOTAL_SUPPLY, supply);
  state.putU64(balanceKey(owner), supply);
  emit("transfer", transferEvent("", owner, supply));
}

// Moves `amount` from the caller to `to`.
export function transfer(): void {
  const input = readArguments();
  const to = input.string(1);
  const amount = input.uint64(2);
  if (to.length == 0) revert("transfer: the recipient is empty");
  const from = caller();
  const fromBalance = state.getU64(balanceKey(from));
  if (fromBalance < amount) {
    // The transaction fails with this message and nothing the call wrote is kept.
    revert(`transfer: insufficient balance: ${from} has ${fromBalance}, needs ${amount}`);
  }
  // Read the recipient after the sender's write: a transfer to oneself then changes nothing.
  state.putU64(balanceKey(from), fromBalance - amount);
  const toBalance = state.getU64(balanceKey(to));
  // No overflow: every balance is part of the total supply, which is a u64.
  state.putU64(balanceKey(to), toBalance + amount);
  emit("transfer", transferEvent(from, to, amount));
}

// The balance of `owner` (0 for an account never seen).
export function balance(): void {
  const owner = readArguments().string(1);
  setResult(new Writer().uint64(1, state.getU64(balanceKey(owner))));
}

// Every token there is.
export function total_supply(): void {
  setResult(new Writer().uint64(1, state.getU64(TOTAL_SUPPLY)));
}
