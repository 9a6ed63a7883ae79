// The private HAProxy of the tests is the benchmark's (one starter for both; see bench/haproxy.ts).
export { HAPROXY, startHaproxy, type Haproxy } from "../../bench/haproxy.js";
