import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { BadRequestError } from "../errors.ts";
import { containsControlCharacter } from "../web/control-characters.ts";

/**
 * Refuses a request whose path parameters, query or parsed body hold a control character, before
 * any route runs a check or touches the database. Raw bodies (the Messenger webhook's, which is
 * signed byte for byte) are left to their route.
 */
async function inputGuard(app: FastifyInstance) {
  app.addHook("preValidation", (request, _reply, done) => {
    if (containsControlCharacter(request.params) || containsControlCharacter(request.query) || containsControlCharacter(request.body)) {
      done(new BadRequestError("Request holds a control character"));
      return;
    }
    done();
  });
}

export const inputGuardPlugin = fp(inputGuard, { name: "input-guard" });
