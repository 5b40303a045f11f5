import createFetchClient from "openapi-fetch";
import type { paths } from "./generated/openapi.ts";

/** Whether the broker answers its liveness check (`GET /healthz`) within `timeoutMs` (default 1.5 s). */
export async function brokerIsUp(options: { brokerUrl: string; timeoutMs?: number; fetch?: typeof fetch }): Promise<boolean> {
  const base = options.fetch ?? fetch;
  const api = createFetchClient<paths>({ baseUrl: options.brokerUrl.replace(/\/$/, ""), fetch: (request: Request) => base(request, { signal: AbortSignal.timeout(options.timeoutMs ?? 1500) }) });
  try {
    const { response } = await api.GET("/healthz");
    return response.ok;
  } catch {
    return false;
  }
}
