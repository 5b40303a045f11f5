import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { preHandlerHookHandler } from "fastify";
import { Type } from "typebox";
import { NotFoundError, UnauthorizedError } from "../errors.ts";
import type { LinksRepo } from "./links-repo.ts";
import type { LinksService } from "./links-service.ts";

export interface LinksRoutesOptions {
  clientAuth: preHandlerHookHandler;
  links: Pick<LinksRepo, "find" | "listByPsid">;
  service: Pick<LinksService, "unlink">;
}

const LinkView = Type.Object({
  link_id: Type.String(),
  psid: Type.String(),
  subject: Type.String(),
  status: Type.String(),
  consent_id: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  unlinked_at: Type.Union([Type.String(), Type.Null()]),
  unlinked_by: Type.Union([Type.String(), Type.Null()]),
});

const view = (l: { id: string; psid: string; subject: string; status: string; consentId: string | null; createdAt: Date; unlinkedAt: Date | null; unlinkedBy: string | null }) => ({
  link_id: l.id,
  psid: l.psid,
  subject: l.subject,
  status: l.status,
  consent_id: l.consentId,
  created_at: l.createdAt.toISOString(),
  unlinked_at: l.unlinkedAt?.toISOString() ?? null,
  unlinked_by: l.unlinkedBy,
});

/** The bank's view of its links (client authentication as at the token endpoint). */
export const linksRoutes: FastifyPluginAsyncTypebox<LinksRoutesOptions> = async (app, { clientAuth, links, service }) => {
  // `request.client` is declared by the client-auth plugin (OAuth module); only its id is used here.
  const callerId = (request: object) => {
    const id = (request as { client?: { id?: unknown } }).client?.id;
    if (typeof id !== "string" || !id) throw new UnauthorizedError("Client authentication required", "invalid_client");
    return id;
  };

  app.get(
    "/links",
    {
      preHandler: clientAuth,
      schema: {
        tags: ["links"],
        summary: "The calling client's links for a PSID",
        querystring: Type.Object({ psid: Type.String({ minLength: 1, maxLength: 128, pattern: "^[\\x21-\\x7e]+$" }) }),
        response: { 200: Type.Object({ links: Type.Array(LinkView) }) },
      },
    },
    async (request) => ({ links: (await links.listByPsid(callerId(request), request.query.psid)).map(view) }),
  );

  app.delete(
    "/links/:link_id",
    {
      preHandler: clientAuth,
      schema: {
        tags: ["links"],
        summary: "Unlink: revoke the link's tokens, withdraw its consent, tell Messenger",
        params: Type.Object({ link_id: Type.String({ maxLength: 64, pattern: "^[\\x21-\\x7e]+$" }) }),
        response: { 200: LinkView },
      },
    },
    async (request) => {
      const clientId = callerId(request);
      const link = await links.find(request.params.link_id);
      if (!link || link.clientId !== clientId) throw new NotFoundError("No such link");
      await service.unlink(link.id, { actor: "bank", reason: "unlinked by the bank", notifyMessenger: true });
      return view((await links.find(link.id))!);
    },
  );
};
