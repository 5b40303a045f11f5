import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * Strict-Transport-Security in production (RFC 6797, FAPI 2.0 §5.2.1: TLS only), through
 * @fastify/helmet. Helmet's other headers are off here: the broker sets its own CSP per page, and
 * the framing and cookie headers are configured where those pages are built.
 */
async function securityHeaders(app: FastifyInstance, { production }: { production: boolean }) {
  if (!production) return; // http://localhost in development: HSTS would pin the browser to https.
  await app.register(helmet, {
    global: true,
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    xContentTypeOptions: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: false,
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: false,
    xXssProtection: false,
  });
}

export const securityHeadersPlugin = fp(securityHeaders, { name: "security-headers" });
