import type { FastifyBaseLogger, FastifyServerOptions } from "fastify";
import pino from "pino";

/** Query parameters whose values never reach a log line. */
const SECRET_PARAMS = ["account_linking_token", "authorization_code", "code", "state", "request_uri", "code_verifier", "access_token", "refresh_token", "token", "client_secret", "client_assertion", "hub.verify_token", "nonce", "id_token"];

export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of SECRET_PARAMS) if (params.has(name)) params.set(name, "[Redacted]");
  return `${url.slice(0, q)}?${params.toString()}`;
}

/** pino paths redacted in every line (DESIGN.md "Data at rest": secrets, codes, Authorization). */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers.dpop",
  "req.headers[\"x-hub-signature-256\"]",
  "res.headers[\"set-cookie\"]",
  ...["client_secret", "registration_access_token", "code", "code_verifier", "refresh_token", "access_token", "account_linking_token", "authorization_code", "page_access_token", "app_secret", "verify_token", "password", "secret", "totp", "client_assertion", "token", "id_token"].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

export function loggerOptions(level: string, stream?: { write(line: string): void }): FastifyServerOptions["logger"] {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: REDACT_PATHS, censor: "[Redacted]" },
    serializers: {
      req(req: { method: string; url: string; ip?: string; id?: string }) {
        return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip };
      },
    },
  };
}

/**
 * The access log's writer: whole lines (plugins/access-log.ts formats them) to the same
 * destination as the app's logger, without its redaction, or undefined when `level` leaves out
 * info. An access-log line holds only fields the broker chose (method, route, status, time,
 * client id, address, error code) and a URL already through redactUrl, so redaction never changes
 * one; but pino's wildcard redaction paths cost about 100 µs a line, 15 times the line itself,
 * which halved the throughput of the default configuration (LOG_LEVEL=info).
 */
export function createAccessLogWriter(level: string, stream?: { write(line: string): void }): ((line: string) => void) | undefined {
  const values = pino.levels.values;
  if (!((values[level] ?? Number.POSITIVE_INFINITY) <= values.info!)) return undefined;
  const out = stream ?? pino.destination({ dest: 1, sync: true });
  return (line) => {
    out.write(line);
  };
}

/**
 * Where the broker's log lines go in production: stdout, written asynchronously so a request
 * never waits for the terminal or the log shipper; lines written while a write is in flight go
 * out together in the next one. `flushSync()` on shutdown writes what is left, so nothing logged
 * before the process ends is lost.
 */
export function createLogDestination(fd = 1) {
  const destination = pino.destination({ dest: fd, sync: false, contentMode: "buffer" });
  // Each line is queued as its own UTF-8 Buffer. In its default (string) mode the destination
  // appends lines to one growing string and measures that string's byte length on every write,
  // which copies the whole queue again each time a line joins it: under load, with a write in
  // flight, about 2 µs of CPU per access-log line (measured: 5.0 against 3.0 µs a line at 64
  // lines a batch). pino writes strings, so they are turned into Buffers here.
  const writeBuffer = destination.write.bind(destination) as unknown as (data: Buffer) => boolean;
  destination.write = (line: string) => writeBuffer(Buffer.from(line));
  return destination;
}

type Bindings = Record<string, unknown>;
type LogFn = (...args: unknown[]) => void;

/**
 * Fastify's per-request logger (`request.log`), made on first use. Most requests write nothing
 * through it (their access-log line has its own writer), and making a pino child on every
 * request, with the app's redaction and serializers, was a measurable part of a short request's
 * CPU. The child it makes on the first line has the same bindings (the request id) and options
 * as Fastify's own, so every line it writes is the same, redacted alike.
 */
class LazyChildLogger {
  private made?: FastifyBaseLogger;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: object,
  ) {}
  private real(): FastifyBaseLogger {
    if (!this.made) this.made = this.parent.child(this.bindings, this.options);
    return this.made;
  }
  get level(): string {
    return this.made?.level ?? (this.options as { level?: string }).level ?? this.parent.level;
  }
  set level(level: string) {
    this.real().level = level;
  }
  fatal(...args: unknown[]): void {
    this.write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.write("error", args);
  }
  warn(...args: unknown[]): void {
    this.write("warn", args);
  }
  info(...args: unknown[]): void {
    this.write("info", args);
  }
  debug(...args: unknown[]): void {
    this.write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.write("trace", args);
  }
  silent(): void {}
  private write(level: "fatal" | "error" | "warn" | "info" | "debug" | "trace", args: unknown[]): void {
    const log = this.real();
    (log[level] as LogFn).apply(log, args);
  }
  child(bindings: Bindings, options?: object): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: a LazyChildLogger per request. */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: object): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
