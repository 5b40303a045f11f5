// A real broker on loopback (fresh database), for the client's tests and the guide's snippets.
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../../../../apps/broker/test/support/app.ts";
import { freePort } from "../../../../apps/broker/test/support/ports.ts";

export interface RunningBroker {
  url: string;
  initialAccessToken: string;
  broker: TestBroker;
  close(): Promise<void>;
}

export async function startBroker(env: Record<string, string> = {}): Promise<RunningBroker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const broker = await startTestBroker({ env: { PUBLIC_URL: url, ...env } });
  await broker.app.listen({ port, host: "127.0.0.1" });
  return { url, initialAccessToken: TEST_REGISTRATION_TOKEN, broker, close: () => broker.close() };
}
