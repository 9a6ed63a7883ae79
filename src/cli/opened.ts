// The commands that open a store for one call and close it again, whatever the call does.

/** `fn` on what `open` gives, closed afterwards (also when `fn` throws). */
export async function withOpened<S extends { close(): Promise<void> }, T>(
  open: () => Promise<S>,
  fn: (s: S) => Promise<T>,
): Promise<T> {
  const s = await open();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
