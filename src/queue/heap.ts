// A binary min-heap of wake-up times: the queue manager's timetable (one clock timer for the
// earliest entry instead of one timer per message). Stale entries are skipped by the caller.

export interface Wake<T> {
  readonly at: number;
  readonly item: T;
}

export class WakeHeap<T> {
  private readonly a: Wake<T>[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Wake<T> | undefined {
    return this.a[0];
  }

  push(at: number, item: T): void {
    const a = this.a;
    a.push({ at, item });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pi = a[p]!;
      const ii = a[i]!;
      if (pi.at <= ii.at) break;
      a[p] = ii;
      a[i] = pi;
      i = p;
    }
  }

  pop(): Wake<T> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.at < a[m]!.at) m = l;
      if (r < a.length && a[r]!.at < a[m]!.at) m = r;
      if (m === i) break;
      const t = a[m]!;
      a[m] = a[i]!;
      a[i] = t;
      i = m;
    }
    return top;
  }

  clear(): void {
    this.a.length = 0;
  }
}
