// Runs solc-js (the pinned npm package in node_modules beside the caller's cwd) on a standard
// JSON input read from stdin and writes the standard JSON output to stdout. No import callback:
// every source is in the input, so nothing is read from disk or the network.
"use strict";
const path = require("path");
const solc = require(path.resolve("node_modules", "solc"));
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(Buffer.concat(chunks).toString("utf8")));
});
