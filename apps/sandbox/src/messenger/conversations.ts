// The chat transcript of each Messenger user (PSID), persisted with the rest of the sandbox.
import { jsonFile } from "../json-store.ts";

export interface ChatMessage {
  from: "user" | "bot" | "system";
  text: string;
  at: string;
}

export function createConversations(dataDir: string, now: () => number = Date.now) {
  const file = jsonFile<Record<string, ChatMessage[]>>(dataDir, "conversations.json", () => ({}));
  return {
    list: (psid: string) => file.read()[psid] ?? [],
    add(psid: string, from: ChatMessage["from"], texts: string[]) {
      if (!texts.length) return;
      file.update((all) => {
        const at = new Date(now()).toISOString();
        all[psid] = [...(all[psid] ?? []), ...texts.map((text) => ({ from, text, at }))].slice(-60);
      });
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
