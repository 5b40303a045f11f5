import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import type { Agent, buildConnector } from "undici";
import { type AddressPolicy, type Cidr, createAddressPolicy, ipLiteralOf } from "./address-policy.ts";

/** The most the broker reads of any response from outside (a JWKS, a discovery document, a token response). */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export class OutboundError extends Error {
  constructor(
    readonly kind: "refused_address" | "too_large" | "failed_recently",
    message: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

export interface OutboundFetchOptions {
  /** Which addresses may be connected to; undefined connects anywhere (the operator's own Graph URL). */
  policy?: AddressPolicy;
  maxBytes?: number;
  timeoutMs?: number;
  /** How long a failed fetch of a URL answers at once with the same failure, without a new request. */
  failureTtlMs?: number;
  now?: () => number;
}

export type OutboundFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * The checked DNS lookup: every address a name resolves to must be allowed, and the socket
 * connects to exactly the addresses checked, so a name that re-resolves to an internal address
 * between two requests (DNS rebinding) is refused at connect time too.
 */
function checkedLookup(policy: AddressPolicy) {
  return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !policy.allows(a.address));
      if (refused || addresses.length === 0) return callback(new OutboundError("refused_address", `${hostname} resolves to an address the broker does not connect to`), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * undici, loaded on the first request from outside (then kept): a broker that never fetches
 * (most of its time) does not keep its code and its HTTP parser in memory.
 */
let undici: Promise<typeof import("undici")> | undefined;
const loadUndici = () => (undici ??= import("undici"));

/** An undici dispatcher that refuses, at connect time, every address the policy does not allow. */
async function guardedAgent(policy: AddressPolicy, connectTimeoutMs: number): Promise<Agent> {
  const { Agent, buildConnector } = await loadUndici();
  const connector = buildConnector({ lookup: checkedLookup(policy), timeout: connectTimeoutMs } as buildConnector.BuildOptions);
  return new Agent({
    connect(options, callback) {
      // A literal address never reaches lookup(): check it here.
      const literal = ipLiteralOf(options.hostname);
      if (literal !== undefined && !policy.allows(literal)) {
        callback(new OutboundError("refused_address", "the address is one the broker does not connect to"), null);
        return;
      }
      connector(options, callback);
    },
  });
}

/** Reads a body up to `maxBytes`, aborting the transfer past it: memory stays bounded whatever is sent. */
async function readCapped(body: ReadableStream<Uint8Array> | null, declared: string | null, maxBytes: number, abort: () => void): Promise<Uint8Array | null> {
  if (!body) return null;
  if (declared !== null && Number(declared) > maxBytes) {
    abort();
    throw new OutboundError("too_large", `response body is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      abort();
      await reader.cancel().catch(() => {});
      throw new OutboundError("too_large", `response body is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * A fetch for everything the broker reads from outside: redirects never followed, a timeout on
 * the whole exchange, the body read into memory up to 64 KB (a larger one is an error, not a
 * truncation), the policy's address check at connect time, and a failure remembered briefly per
 * URL so a dead or hostile server is not asked again on every request that names it.
 */
export function createOutboundFetch(options: OutboundFetchOptions = {}): OutboundFetch & { close(): Promise<void> } {
  const { policy, maxBytes = MAX_RESPONSE_BYTES, timeoutMs = 5_000, failureTtlMs = 30_000, now = Date.now } = options;
  let dispatcher: Promise<Agent> | undefined;
  const dispatcherOf = () => (dispatcher ??= policy ? guardedAgent(policy, timeoutMs) : loadUndici().then(({ Agent }) => new Agent({ connect: { timeout: timeoutMs } })));
  const failures = new Map<string, { error: Error; until: number }>();

  function remember(key: string, error: Error) {
    if (failures.size >= 10_000) failures.clear();
    failures.set(key, { error, until: now() + failureTtlMs });
  }

  async function outboundFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = String(input);
    const method = (init.method ?? "GET").toUpperCase();
    const key = `${method} ${url}`;
    const failed = failures.get(key);
    if (failed && failed.until > now()) throw new OutboundError("failed_recently", `${failed.error.message} (failed recently; not retried yet)`);
    failures.delete(key);

    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs), ...(init.signal ? [init.signal] : [])]);
    try {
      const [{ fetch: undiciFetch }, agent] = await Promise.all([loadUndici(), dispatcherOf()]);
      const response = await undiciFetch(url, {
        method,
        headers: init.headers as never,
        body: init.body as never,
        redirect: init.redirect === "follow" || init.redirect === undefined ? "manual" : init.redirect,
        signal,
        dispatcher: agent,
      });
      const body = await readCapped(response.body as ReadableStream<Uint8Array> | null, response.headers.get("content-length"), maxBytes, () => controller.abort());
      const copy = new Response(NULL_BODY_STATUS.has(response.status) ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: new Headers([...response.headers]),
      });
      // A GET that answers an error is as useless as one that fails; a POST's error is the answer.
      if (method === "GET" && !response.ok) remember(key, new Error(`answered ${response.status}`));
      return copy;
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      const error = err instanceof OutboundError ? err : cause instanceof OutboundError ? cause : (err as Error);
      remember(key, error);
      throw error;
    }
  }

  return Object.assign(outboundFetch, { close: async () => (await dispatcher)?.close() });
}

/** The fetch for URLs a registrant controls (jwks_uri, a bank's issuer and its endpoints). */
export function registrantFetch(allowlist: readonly Cidr[], options: Omit<OutboundFetchOptions, "policy"> = {}) {
  return createOutboundFetch({ ...options, policy: createAddressPolicy(allowlist) });
}
