import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * Nothing the broker serves may be framed: every page already sends CSP `frame-ancestors 'none'`,
 * and older WebViews (Messenger's among them on old phones) obey only X-Frame-Options. Set when
 * the response is sent, so no route or later plugin can leave it out or weaken it.
 */
async function frameProtection(app: FastifyInstance) {
  app.addHook("onSend", (_request, reply, payload, done) => {
    reply.header("x-frame-options", "DENY");
    done(null, payload);
  });
}

export const frameProtectionPlugin = fp(frameProtection, { name: "frame-protection" });

/**
 * The CSP of `/docs` (Swagger UI's own, with the hashes of its inline scripts): never framed,
 * no third-party validator badge, and no upgrade of requests, which would break plain-http
 * local development.
 */
export function docsCsp(header: string): string {
  return header
    .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
    .replace(" validator.swagger.io", "")
    .replace(/\s*upgrade-insecure-requests;?/, "")
    .concat(header.includes("form-action") ? "" : " form-action 'none';");
}
