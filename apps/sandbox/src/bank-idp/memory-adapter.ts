// oidc-provider storage in memory: sign-in attempts and codes live minutes, so a restart losing
// them only means "sign in again". What must survive (keys, the client) comes from config.
interface Stored {
  payload: Record<string, unknown>;
  expiresAt: number | undefined;
}

const stores = new Map<string, Map<string, Stored>>();
const grantIndex = new Map<string, Set<string>>();

export class MemoryAdapter {
  private readonly store: Map<string, Stored>;

  constructor(private readonly name: string) {
    this.store = stores.get(name) ?? new Map();
    stores.set(name, this.store);
  }

  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
    this.store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    const grantId = payload.grantId as string | undefined;
    if (grantId) grantIndex.set(grantId, (grantIndex.get(grantId) ?? new Set()).add(`${this.name}:${id}`));
  }

  async find(id: string) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid: string) {
    for (const [id, entry] of this.store) if (entry.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode: string) {
    for (const [id, entry] of this.store) if (entry.payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async consume(id: string) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId: string) {
    for (const key of grantIndex.get(grantId) ?? []) {
      const i = key.indexOf(":");
      stores.get(key.slice(0, i))?.delete(key.slice(i + 1));
    }
    grantIndex.delete(grantId);
  }
}
