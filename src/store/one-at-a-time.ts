// Serialization by key within the process: oneAtATime(key, fn) runs fn after every earlier call
// with the same key has settled (fulfilled or not), and forgets the key when nothing waits. Used
// where two steps must not interleave with another writer of the same thing in this process
// (a mailbox's maildirsize, an account's usage figure).
const chains = new Map<string, Promise<unknown>>();

export function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (chains.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}
