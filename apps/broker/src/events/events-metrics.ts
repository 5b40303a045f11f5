import { Counter, Gauge, Histogram, type Metric } from "prom-client";

/** Push delivery state for /metrics; registered by the composition root on the app's registry. */
export function createEventsMetrics(pending: () => Promise<number>) {
  const delivered = new Counter({ name: "broker_events_delivered_total", help: "Consent events a bank's events_uri accepted", registers: [] });
  const failed = new Counter({ name: "broker_events_push_failures_total", help: "Failed push attempts: retry (will be tried again) or refused (the bank answered 400)", labelNames: ["reason"] as const, registers: [] });
  const latency = new Histogram({
    name: "broker_events_push_latency_seconds",
    help: "From an event being made to its bank accepting it",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    registers: [],
  });
  const pendingGauge = new Gauge({
    name: "broker_events_pending",
    help: "Consent events waiting for push delivery",
    registers: [],
    async collect() {
      this.set(await pending());
    },
  });
  return { delivered, failed, latency, all: [delivered, failed, latency, pendingGauge] as Metric[] };
}

export type EventsMetrics = Pick<ReturnType<typeof createEventsMetrics>, "delivered" | "failed" | "latency">;
