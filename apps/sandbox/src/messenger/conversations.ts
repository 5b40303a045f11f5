// The chat transcript of each Messenger user (PSID), persisted with the rest of the sandbox.
import { jsonFile } from "../json-store.ts";

/** A button of a button template: `account_link` starts linking, `web_url` opens a page. */
export interface ChatButton {
  type: "account_link" | "web_url";
  title: string;
  url: string;
}

export interface ChatMessage {
  from: "user" | "bot" | "system";
  text: string;
  at: string;
  buttons?: ChatButton[];
}

export function createConversations(dataDir: string, now: () => number = Date.now) {
  const file = jsonFile<Record<string, ChatMessage[]>>(dataDir, "conversations.json", () => ({}));
  const append = (psid: string, messages: Omit<ChatMessage, "at">[]) => {
    if (!messages.length) return;
    file.update((all) => {
      const at = new Date(now()).toISOString();
      all[psid] = [...(all[psid] ?? []), ...messages.map((m) => ({ ...m, at }))].slice(-60);
    });
  };
  return {
    list: (psid: string) => file.read()[psid] ?? [],
    add(psid: string, from: ChatMessage["from"], texts: string[]) {
      append(
        psid,
        texts.map((text) => ({ from, text })),
      );
    },
    /** A message the page sent through the Send API, with its buttons. */
    addFromPage(psid: string, text: string, buttons?: ChatButton[]) {
      append(psid, [{ from: "bot", text, ...(buttons?.length ? { buttons } : {}) }]);
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
