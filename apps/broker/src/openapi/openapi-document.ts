// The OpenAPI document as a file: packages/client generates its types from it. Written by
// `pnpm openapi:write`; test/openapi.test.ts fails while the file and the live document differ.
import type { FastifyInstance } from "fastify";

export const OPENAPI_WRITE_COMMAND = "pnpm openapi:write";
/** The server URL the committed document names (the broker's default PUBLIC_URL). */
export const DOCUMENT_SERVER = "http://localhost:3000";

export function openApiFile(app: FastifyInstance): string {
  const doc = app.swagger() as { servers?: { url: string }[] };
  return `${JSON.stringify({ ...doc, servers: [{ url: DOCUMENT_SERVER }] }, null, 2)}\n`;
}
