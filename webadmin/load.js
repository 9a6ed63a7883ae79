// The pages' one way of reading the admin API: useLoad keeps an answer, the error of the last
// try and a reload, polls when asked, and drops an answer that a newer request overtook (a
// slow reply for the previously picked node must not replace the current node's).
import { useCallback, useEffect, useState } from "./vendor/preact-htm.js";

/**
 * Loads fn() now, every `every` ms when given, and again on reload(); a stale answer is dropped.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {readonly unknown[]} deps
 * @param {number} [every]
 * @returns {[T | null, string, () => void]}
 */
export function useLoad(fn, deps, every) {
  const [data, setData] = useState(/** @type {T | null} */ (null));
  const [error, setError] = useState("");
  const [seq] = useState({ n: 0 });
  const load = useCallback(() => {
    const mine = ++seq.n;
    fn()
      .then((d) => {
        if (mine !== seq.n) return;
        setData(d);
        setError("");
      })
      .catch((e) => {
        if (mine === seq.n) setError(e.message);
      });
  }, deps);
  useEffect(() => {
    load();
    if (!every) return undefined;
    const t = setInterval(load, every);
    return () => clearInterval(t);
  }, [load]);
  return [data, error, load];
}
