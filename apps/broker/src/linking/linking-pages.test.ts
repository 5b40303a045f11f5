import { describe, expect, it } from "vitest";
import { consentPage } from "./linking-pages.ts";

const base = { bankName: "Sandbox Bank", durationDays: 90, expiresOn: "3 March 2027", csrf: "c" };
const text = (page: string) => page.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

describe("consent page", () => {
  it("says a scope granted for two purposes once, with both purposes", () => {
    const page = text(
      consentPage({
        ...base,
        required: [{ scope: "balance:read", purpose: "account_servicing" }],
        optional: [
          { scope: "transactions:read", purpose: "account_servicing" },
          { scope: "transactions:read", purpose: "transaction_notifications" },
        ],
      }),
    );
    expect(page.match(/See your recent transactions/g)).toHaveLength(1);
    expect(page).toMatch(/See your recent transactions \(purposes: Servicing your account; [^)]+\)/);
  });

  it("offers one unticked checkbox per optional scope", () => {
    const page = consentPage({
      ...base,
      required: [{ scope: "balance:read", purpose: "account_servicing" }],
      optional: [
        { scope: "alerts:fraud", purpose: "fraud_alerts" },
        { scope: "transactions:read", purpose: "account_servicing" },
        { scope: "transactions:read", purpose: "transaction_notifications" },
      ],
    });
    const boxes = page.match(/<input type="checkbox"[^>]*>/g) ?? [];
    expect(boxes.map((b) => /value="([^"]+)"/.exec(b)?.[1])).toEqual(["alerts:fraud", "transactions:read"]);
    expect(boxes.some((b) => b.includes("checked"))).toBe(false);
  });
});
