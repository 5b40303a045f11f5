import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { accountLinkingEvent, deliverWebhook, signWebhook, verifyWebhookSignature } from "./webhook-signing.ts";

describe("webhook signing", () => {
  it("signs the exact bytes delivered with HMAC-SHA256 of the app secret", async () => {
    let raw = Buffer.alloc(0);
    let header = "";
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        raw = Buffer.concat(chunks);
        header = String(req.headers["x-hub-signature-256"]);
        res.writeHead(200, { "content-type": "application/json" }).end('{"replies":["ok"]}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as { port: number };
    const event = accountLinkingEvent("123", "456", { status: "linked", authorization_code: "c-1" });
    const delivery = await deliverWebhook(`http://127.0.0.1:${port}/hook`, event, "app-secret-1");
    server.close();
    expect(delivery.ok).toBe(true);
    expect(delivery.body).toEqual({ replies: ["ok"] });
    // Independent check: Node's HMAC over the received bytes.
    expect(header).toBe(`sha256=${createHmac("sha256", "app-secret-1").update(raw).digest("hex")}`);
    expect(JSON.parse(raw.toString()).entry[0].messaging[0].account_linking).toEqual({ status: "linked", authorization_code: "c-1" });
  });

  it("verifies in constant time and refuses a changed body, secret or missing header", () => {
    const raw = Buffer.from('{"a":1}');
    const sig = signWebhook(raw, "s");
    expect(verifyWebhookSignature(raw, sig, "s")).toBe(true);
    expect(verifyWebhookSignature(Buffer.from('{"a":2}'), sig, "s")).toBe(false);
    expect(verifyWebhookSignature(raw, sig, "other")).toBe(false);
    expect(verifyWebhookSignature(raw, undefined, "s")).toBe(false);
    expect(verifyWebhookSignature(raw, "sha256=00", "s")).toBe(false);
  });

  it("reports an unreachable endpoint instead of throwing or hanging", async () => {
    const delivery = await deliverWebhook("http://127.0.0.1:9/hook", {}, "s", 1000);
    expect(delivery.ok).toBe(false);
  });
});
