#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm ci / npm install build it through "prepare").
// libuv's thread pool (fsync and file writes) keeps its default of 4 threads: measured with 4, 8,
// 16 and 32, larger pools cost more CPU per message and delivered no more (docs/BENCHMARKS.md).
// UV_THREADPOOL_SIZE in the environment still overrides it.
const { main } = await import("../dist/src/cli/main.js");

process.exitCode = await main(process.argv.slice(2));
