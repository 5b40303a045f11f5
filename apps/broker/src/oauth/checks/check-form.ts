import type { FastifyRequest } from "fastify";
import { InvalidRequest } from "../../errors.ts";

/** OAuth endpoints take application/x-www-form-urlencoded bodies only (RFC 6749 §3.2). */
export async function checkFormBody(request: FastifyRequest) {
  const type = request.headers["content-type"] ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw InvalidRequest("the body must be application/x-www-form-urlencoded");
}

/** Responses carrying tokens or token data are never cached. */
export async function noStore(_request: FastifyRequest, reply: import("fastify").FastifyReply) {
  reply.header("cache-control", "no-store").header("pragma", "no-cache");
}
