#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm ci / npm install build it through "prepare").
// fsync and file writes run on libuv's thread pool; its default of 4 threads caps how many
// messages can be made durable at once, so a larger pool is set before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= "16";
const { main } = await import("../dist/src/cli/main.js");

process.exitCode = await main(process.argv.slice(2));
