import { createHash } from "node:crypto";
import { generate } from "otplib";
import { CookieJar } from "./cookie-jar.ts";
import type { LinkingEnv } from "./linking-env.ts";

/**
 * The browser side of the linking flow over real HTTP, one helper per step, so tests can stop
 * anywhere and full-flow tests can run it end to end with `driveLinkFlow`.
 */
export interface LinkStart {
  jar: CookieJar;
  response: Response;
  psid: string;
  token: string;
  redirectUri: string;
}

export function linkUrl(env: LinkingEnv, params: Record<string, string | undefined>): string {
  const url = new URL("/link", env.brokerUrl);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

/** The PKCE verifier behind PLAIN_PARAMS' challenge: the bank exchanges codes with it. */
export const PLAIN_VERIFIER = "linking-test-code-verifier-0123456789-abcdefghijkl";

/** Plain (PAR-less) authorization parameters for a client with requirePar: false. */
export const PLAIN_PARAMS = {
  scope: "balance:read alerts:fraud",
  code_challenge: createHash("sha256").update(PLAIN_VERIFIER).digest("base64url"),
  code_challenge_method: "S256",
};

/** Messenger opens the account_link URL with its token and redirect_uri appended. */
export async function openLink(
  env: LinkingEnv,
  options: { clientId: string; psid?: string; params?: Record<string, string | undefined>; redirectUri?: string; jar?: CookieJar },
): Promise<LinkStart> {
  const psid = options.psid ?? `psid-${Math.random().toString(36).slice(2, 10)}`;
  const token = env.graph.issueToken(psid);
  const redirectUri = options.redirectUri ?? `${env.messengerRedirect}?psid_hint=1`;
  const jar = options.jar ?? new CookieJar();
  const response = await jar.fetch(linkUrl(env, { client_id: options.clientId, ...(options.params ?? PLAIN_PARAMS), account_linking_token: token, redirect_uri: redirectUri }));
  return { jar, response, psid, token, redirectUri };
}

/** Follows redirects (any host) until one points at `stop`; answers that URL. */
export async function followUntil(jar: CookieJar, start: string, stop: (url: URL) => boolean, init?: RequestInit): Promise<URL> {
  let url = new URL(start);
  let response = await jar.fetch(url, init);
  for (let i = 0; i < 10; i++) {
    const location = response.headers.get("location");
    if (!location) throw new Error(`expected a redirect from ${url.pathname}, got ${response.status}: ${(await response.text()).slice(0, 200)}`);
    url = new URL(location, url);
    if (stop(url)) return url;
    response = await jar.fetch(url);
  }
  throw new Error("too many redirects");
}

/** Signs in at the bank IdP from its authorization URL; answers the broker callback URL. */
export async function bankLogin(env: LinkingEnv, jar: CookieJar, authorizationUrl: string, username = "alice", password?: string): Promise<URL> {
  const interaction = await followUntil(jar, authorizationUrl, (u) => u.pathname.startsWith("/interaction/"));
  const account = env.idp.accounts[username];
  const body = new URLSearchParams({ username, password: password ?? account?.password ?? "" });
  return followUntil(jar, interaction.href, (u) => u.href.startsWith(`${env.brokerUrl}/link/callback`), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
}

export function csrfOf(pageHtml: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(pageHtml);
  if (!match) throw new Error("no csrf field on the page");
  return match[1]!;
}

export function totpSecretOf(pageHtml: string): string | undefined {
  const uri = /<code>(otpauth:\/\/[^<]+)<\/code>/.exec(pageHtml)?.[1];
  return uri ? new URL(uri.replace(/&amp;/g, "&")).searchParams.get("secret") ?? undefined : undefined;
}

export async function totpCode(secret: string, at: Date, offsetSteps = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(at.getTime() / 1000) + offsetSteps * 30 });
}

/** A form post; a list value posts its field once per item (the consent form's ticked `scope`s). */
export async function postForm(jar: CookieJar, url: string, fields: Record<string, string | string[]>): Promise<Response> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
  return jar.fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
}

export interface DriveResult extends LinkStart {
  /** Where the broker finally sent the browser (Messenger's redirect_uri, with or without a code). */
  finalLocation?: URL;
  authorizationCode?: string;
  totpSecret?: string;
  last: Response;
}

/**
 * The whole customer journey: open the link, sign in at the bank, enrol or enter a TOTP code,
 * approve or deny. `totpSecrets` remembers secrets per bank subject across links.
 */
export async function driveLinkFlow(
  env: LinkingEnv,
  options: {
    clientId: string;
    username?: string;
    psid?: string;
    params?: Record<string, string | undefined>;
    decision?: "approve" | "deny";
    /** Optional scopes to tick on the consent page (one `scope` field each). */
    ticked?: string[];
    totpSecrets?: Map<string, string>;
    stopAt?: "second_factor" | "consent";
  },
): Promise<DriveResult> {
  const username = options.username ?? "alice";
  const start = await openLink(env, { clientId: options.clientId, psid: options.psid, params: options.params });
  if (start.response.status !== 302) throw new Error(`GET /link answered ${start.response.status}: ${(await start.response.text()).slice(0, 300)}`);
  const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!, username);
  const afterCallback = await start.jar.fetch(callback);
  if (afterCallback.status !== 303) throw new Error(`callback answered ${afterCallback.status}`);
  const twoFa = await start.jar.fetch(`${env.brokerUrl}/link/2fa`);
  if (options.stopAt === "second_factor") return { ...start, last: twoFa };
  const html = await twoFa.text();
  const secrets = options.totpSecrets ?? env.totpSecrets;
  const key = `${options.clientId}:${username}`;
  const secret = totpSecretOf(html) ?? secrets.get(key);
  if (!secret) throw new Error("no TOTP secret known for this customer");
  secrets.set(key, secret);
  const code = await totpCode(secret, env.clock.now());
  const verified = await postForm(start.jar, `${env.brokerUrl}/link/2fa`, { code, csrf: csrfOf(html) });
  if (verified.status !== 303) throw new Error(`POST /link/2fa answered ${verified.status}: ${(await verified.text()).slice(0, 300)}`);
  const consent = await start.jar.fetch(`${env.brokerUrl}/link/consent`);
  if (options.stopAt === "consent") return { ...start, last: consent, totpSecret: secret };
  const decided = await postForm(start.jar, `${env.brokerUrl}/link/consent`, { decision: options.decision ?? "approve", csrf: csrfOf(await consent.text()), scope: options.ticked ?? [] });
  const location = decided.headers.get("location");
  const finalLocation = location ? new URL(location) : undefined;
  return { ...start, last: decided, finalLocation, authorizationCode: finalLocation?.searchParams.get("authorization_code") ?? undefined, totpSecret: secret };
}
