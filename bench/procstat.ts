// What the kernel says about a set of processes: CPU time (own and reaped children's), resident
// memory (RSS) and proportional memory (PSS, shared pages divided among their users). Reads
// /proc only; a process that exits between listing and reading is skipped, never an error.
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const TICKS_PER_SECOND = readTicks();
const PAGE_KB = readPageKb();

function readTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

function readPageKb(): number {
  try {
    return Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) / 1024 || 4;
  } catch {
    return 4;
  }
}

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** Session id: Postfix's master calls setsid(), so every daemon it forks shares its pid here. */
  readonly session: number;
  /** Own CPU seconds (user + system). */
  readonly cpu: number;
  /** CPU seconds of children this process has reaped. */
  readonly childCpu: number;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return null;
  }
}

/** Fields of /proc/PID/stat; the command name is in parentheses and may contain spaces. */
export function procStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  const rest = text
    .slice(text.lastIndexOf(")") + 2)
    .trim()
    .split(" ");
  // rest[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17 (proc(5)).
  const f = (n: number): number => Number(rest[n - 3] ?? 0);
  return {
    pid,
    ppid: f(4),
    session: f(6),
    cpu: (f(14) + f(15)) / TICKS_PER_SECOND,
    childCpu: (f(16) + f(17)) / TICKS_PER_SECOND,
  };
}

/** Resident set size in KB (0 when the process is gone). */
export function rssKb(pid: number): number {
  const text = readText(`/proc/${pid}/statm`);
  if (text === null) return 0;
  return Number(text.split(" ")[1] ?? 0) * PAGE_KB;
}

/** Proportional set size in KB (0 when the process is gone). */
export function pssKb(pid: number): number {
  const text = readText(`/proc/${pid}/smaps_rollup`);
  const m = text === null ? null : /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** A process and its direct children (Postfix's master forks every daemon itself). */
export function withChildren(root: number): number[] {
  // The kernel's own list of children per thread, when it keeps one (CONFIG_PROC_CHILDREN),
  // costs one read instead of a walk over every process on the machine.
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${root}/task`);
  } catch {
    return [root];
  }
  const kids: number[] = [];
  for (const t of tasks) {
    const text = readText(`/proc/${root}/task/${t}/children`);
    if (text === null) return scanChildren(root);
    for (const c of text.trim().split(" ")) if (c) kids.push(Number(c));
  }
  return [root, ...kids];
}

function scanChildren(root: number): number[] {
  const pids = [root];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === root) continue;
    if (procStat(pid)?.ppid === root) pids.push(pid);
  }
  return pids;
}

/** Every process in a session (to stop whatever a private Postfix left behind). */
export function sessionMembers(session: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries.map(Number).filter((pid) => Number.isInteger(pid) && procStat(pid)?.session === session);
}

/**
 * A live process's own CPU seconds, precisely. /proc/PID/stat rounds each process down to whole
 * clock ticks (10 ms), which over dozens of short-lived Postfix daemons adds up to a visible
 * error; the scheduler's runtime per thread (/proc/PID/task/TID/schedstat, ns) does not round,
 * but forgets threads that have exited. The larger of the two is the better reading.
 */
export function ownCpu(pid: number): number {
  const s = procStat(pid);
  if (!s) return 0;
  let ns = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return s.cpu;
  }
  for (const t of tasks) ns += Number(readText(`/proc/${pid}/task/${t}/schedstat`)?.split(" ")[0] ?? 0);
  return Math.max(s.cpu, ns / 1e9);
}

/**
 * CPU seconds used so far by a process tree one level deep: the root's own and reaped children's
 * time plus the live children's. A child that exits between two readings moves from the second
 * term to the first (the kernel adds its full time to the parent's children's time), so
 * differences between readings stay right.
 */
export function treeCpu(root: Roots): number {
  let total = 0;
  for (const pid of treePids(root)) {
    const s = procStat(pid);
    if (s) total += ownCpu(pid) + s.childCpu;
  }
  return total;
}

/** One process tree's root, or several (a cluster's members, an MTA with its LMTP server). */
export type Roots = number | readonly number[];

const treePids = (root: Roots): number[] =>
  typeof root === "number" ? withChildren(root) : root.flatMap((r) => withChildren(r));

export interface MemorySample {
  readonly rssKb: number;
  readonly pssKb: number;
  readonly processes: number;
}

export function treeMemory(root: Roots, withPss: boolean): MemorySample {
  let rss = 0;
  let pss = 0;
  const pids = treePids(root);
  for (const pid of pids) {
    rss += rssKb(pid);
    if (withPss) pss += pssKb(pid);
  }
  return { rssKb: rss, pssKb: pss, processes: pids.length };
}

/** Samples a tree's memory on a timer and keeps the peaks (bounded: one sample per tick). */
export class MemoryPeaks {
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  peakRssKb = 0;
  peakPssKb = 0;
  peakProcesses = 0;

  constructor(
    private readonly root: Roots,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  private sample(): void {
    // PSS walks page tables, so it is read every fifth tick; RSS every tick.
    const m = treeMemory(this.root, this.ticks++ % 5 === 0);
    this.peakRssKb = Math.max(this.peakRssKb, m.rssKb);
    this.peakPssKb = Math.max(this.peakPssKb, m.pssKb);
    this.peakProcesses = Math.max(this.peakProcesses, m.processes);
  }
}
