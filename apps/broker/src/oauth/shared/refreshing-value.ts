/**
 * A value loaded on first use and shared by concurrent callers. Once loaded, a stale value keeps
 * serving while one background reload runs, so an expiry never stalls requests, but never one
 * older than `maxAgeMs` (when given): past that, callers wait for the reload, so a change made by
 * another process is seen within that bound whatever the traffic was. After `clear()` the next
 * caller loads afresh, and a load that was already running cannot put its older value back.
 */
export function refreshingValue<T>(ttlMs: number, load: () => Promise<T>, maxAgeMs = Number.POSITIVE_INFINITY) {
  let current: { value: T; loadedAt: number } | undefined;
  let loading: Promise<T> | undefined;
  const reload = (): Promise<T> => {
    if (loading) return loading;
    const run: Promise<T> = load()
      .then((value) => {
        if (loading === run) current = { value, loadedAt: Date.now() };
        return value;
      })
      .finally(() => {
        if (loading === run) loading = undefined;
      });
    loading = run;
    return run;
  };
  /** The value when it can be served at once (a stale one starts its reload), else undefined. */
  const peek = (): { readonly value: T } | undefined => {
    if (!current) return undefined;
    const age = Date.now() - current.loadedAt;
    if (age >= maxAgeMs) return undefined;
    if (age >= ttlMs) reload().catch(() => {});
    return current;
  };
  return {
    reload,
    peek,
    async get(): Promise<T> {
      const served = peek();
      return served ? served.value : reload();
    },
    clear() {
      current = undefined;
      loading = undefined;
    },
  };
}
export type RefreshingValue<T> = ReturnType<typeof refreshingValue<T>>;
