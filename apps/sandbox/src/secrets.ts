// Sandbox secrets (page token, app secret, IdP client secret, cookie keys): generated once.
import { randomBytes } from "node:crypto";
import { jsonFile } from "./json-store.ts";

export interface SandboxSecrets {
  pageId: string;
  pageAccessToken: string;
  appSecret: string;
  verifyToken: string;
  idpClientId: string;
  idpClientSecret: string;
  idpCookieKeys: string[];
}

const random = (n = 32) => randomBytes(n).toString("base64url");

export function loadSecrets(dataDir: string): SandboxSecrets {
  const file = jsonFile<SandboxSecrets | null>(dataDir, "secrets.json", () => null);
  const existing = file.read();
  if (existing) return existing;
  const created: SandboxSecrets = {
    pageId: String(100000000000000 + Math.floor(Math.random() * 1e14)),
    pageAccessToken: `EAAsandbox${random()}`,
    appSecret: random(),
    verifyToken: random(16),
    idpClientId: "link-broker",
    idpClientSecret: random(),
    idpCookieKeys: [random()],
  };
  file.write(created);
  return created;
}
