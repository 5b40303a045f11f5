import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRequestHistogram } from "./request-histogram.ts";

describe("request histogram", () => {
  it("exposes cumulative buckets, sum and count per method, route and status", async () => {
    const registry = new Registry();
    const h = createRequestHistogram("http_request_duration_seconds", "Request duration", [0.01, 0.1]);
    registry.registerMetric(h.metric);
    h.observe("POST", "/oauth/token", 200, 0.005);
    h.observe("POST", "/oauth/token", 200, 0.05);
    h.observe("POST", "/oauth/token", 200, 0.5);
    h.observe("POST", "/oauth/token", 401, 0.01);
    const text = await registry.metrics();
    const lines = text.split("\n");
    expect(lines).toContain("# TYPE http_request_duration_seconds histogram");
    const ok = 'method="POST",route="/oauth/token",status_code="200"';
    expect(lines).toContain(`http_request_duration_seconds_bucket{${ok},le="0.01"} 1`);
    expect(lines).toContain(`http_request_duration_seconds_bucket{${ok},le="0.1"} 2`);
    expect(lines).toContain(`http_request_duration_seconds_bucket{${ok},le="+Inf"} 3`);
    expect(lines).toContain(`http_request_duration_seconds_sum{${ok}} 0.555`);
    expect(lines).toContain(`http_request_duration_seconds_count{${ok}} 3`);
    // A duration on a bound counts in that bucket (le is "less than or equal").
    expect(lines).toContain('http_request_duration_seconds_bucket{method="POST",route="/oauth/token",status_code="401",le="0.01"} 1');
  });
});
