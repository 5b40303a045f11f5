import ipaddr from "ipaddr.js";

/**
 * Which addresses the broker may connect to when it fetches a URL that a registrant controls
 * (a client's jwks_uri, a bank's issuer and every endpoint its discovery document names).
 * Only public unicast addresses: loopback, private, link-local, unique-local, unspecified,
 * carrier-grade NAT, multicast, reserved, and IPv6 forms that embed an IPv4 address (mapped,
 * NAT64, 6to4, Teredo) are refused, unless the operator's allowlist names them (outside
 * production only, for tests and the sandbox on loopback).
 */
export interface AddressPolicy {
  /** True when `address` (an IP literal) may be connected to. */
  allows(address: string): boolean;
}

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses `127.0.0.0/8,::1` (a bare address is its own /32 or /128); throws on a bad entry. */
export function parseCidrList(raw: string): Cidr[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => (entry.includes("/") ? ipaddr.parseCIDR(entry) : ((a) => [a, a.kind() === "ipv4" ? 32 : 128] as Cidr)(ipaddr.parse(entry))));
}

export function createAddressPolicy(allowlist: readonly Cidr[] = []): AddressPolicy {
  return {
    allows(address) {
      if (!ipaddr.isValid(address)) return false;
      // process() turns an IPv4-mapped IPv6 address into the IPv4 one, so ::ffff:127.0.0.1 is loopback.
      const parsed = ipaddr.process(address);
      if (parsed.range() === "unicast") return true;
      return allowlist.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net as never, bits));
    },
  };
}

/** A URL's hostname as an IP literal, or undefined for a name (`[::1]` → `::1`). */
export function ipLiteralOf(hostname: string): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, "");
  return ipaddr.isValid(host) ? host : undefined;
}
