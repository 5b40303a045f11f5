/**
 * Where a request adds up the time it waited on servers outside (a bank's identity provider,
 * the Graph API): the access log writes it as `upstream_ms`, so a slow answer reads as the
 * other server's time, not the broker's. The request itself is the meter (plugins/access-log.ts
 * decorates it); services see only this shape.
 */
export interface UpstreamMeter {
  upstreamMs: number;
}

/** Runs one outbound call and adds how long it took, whether it answered or failed, to `meter`. */
export async function timed<T>(meter: UpstreamMeter | undefined, call: () => Promise<T>): Promise<T> {
  if (!meter) return call();
  const t0 = performance.now();
  try {
    return await call();
  } finally {
    meter.upstreamMs += performance.now() - t0;
  }
}
