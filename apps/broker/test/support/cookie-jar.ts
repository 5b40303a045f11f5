/**
 * A small cookie jar for driving browser flows with fetch: cookies per host:port, names only
 * (paths and expiry are not needed by these flows; a cleared cookie is removed).
 */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();

  store(url: string | URL, response: Response) {
    const host = new URL(url).host;
    const jar = this.jars.get(host) ?? new Map<string, string>();
    this.jars.set(host, jar);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
  }

  header(url: string | URL): string | undefined {
    const jar = this.jars.get(new URL(url).host);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  get(url: string | URL, name: string): string | undefined {
    return this.jars.get(new URL(url).host)?.get(name);
  }

  set(url: string | URL, name: string, value: string) {
    const host = new URL(url).host;
    const jar = this.jars.get(host) ?? new Map<string, string>();
    jar.set(name, value);
    this.jars.set(host, jar);
  }

  delete(url: string | URL, name: string) {
    this.jars.get(new URL(url).host)?.delete(name);
  }

  /** fetch without following redirects, sending and storing this jar's cookies. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set("cookie", cookie);
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    this.store(url, response);
    return response;
  }
}
