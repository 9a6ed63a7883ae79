// The Sieve module's public entry: compile (parse + validate, with line/column errors) and run.
export { compileSieve, type CheckResult, type Script } from "./validate.js";
export { runSieve, type SieveAction, type SieveOptions, type SieveResult } from "./interpret.js";
export { SieveError, type Position } from "./lexer.js";
export { CAPABILITIES } from "./grammar.js";
export { vacationVerdict, type ReplyMemory, type VacationAction, type VacationVerdict } from "./vacation.js";
