// Ending a call with a message, and AssemblyScript's `abort` routed to it.
import * as abi from "./abi";

// Ends the call at once: the host undoes every write of the call and the transaction fails
// with status CONTRACT_REVERTED and this message. It never returns.
export function revert(message: string): void {
  // REPLACE: a lone surrogate in an AssemblyScript string becomes U+FFFD, so the host always
  // receives valid UTF-8.
  const data = String.UTF8.encode(message, false, String.UTF8.ErrorMode.REPLACE);
  abi.revert(changetype<usize>(data), data.byteLength);
  // The host does not return from revert; should one ever do, trap rather than go on.
  unreachable();
}

let aborting = false;

// The build passes `--use abort=assembly/causeway/revert/abort`, so a failed assert(), an
// index out of range or a null dereference reverts with its message and place instead of
// importing `env.abort` (which the chain refuses).
function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // An abort while aborting (say, memory ran out while building the message) must not recurse.
  if (aborting) unreachable();
  aborting = true;
  let text = message !== null ? message : "abort";
  if (fileName !== null) text += ` (${fileName}:${line}:${column})`;
  revert(text);
}
