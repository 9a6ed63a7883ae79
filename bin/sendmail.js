#!/usr/bin/env node
// `sendmail`: the same program as `mailyard sendmail`, under the name cron, scripts and mail()
// call, so `sendmail -t -i` works unchanged. Exit codes are sysexits.h (src/cli/sendmail.ts).
const { sendmailMain } = await import("../dist/src/cli/sendmail.js");

process.exitCode = await sendmailMain(process.argv.slice(2));
