import type { Db, Staff, StaffAuditEvent, StaffRole, StaffSession } from "@link-broker/db";

export type { Staff, StaffRole };

/** Staff accounts, their console sessions and the append-only staff audit log. */
export function createStaffRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    create: (input: { id: string; email: string; passwordHash: string; role: StaffRole; passwordChangeRequired: boolean; createdAt: Date }) => prisma.staff.create({ data: input }),
    setPassword: (id: string, passwordHash: string) => prisma.staff.update({ where: { id }, data: { passwordHash, passwordChangeRequired: false } }),
    findByEmail: (email: string) => prisma.staff.findUnique({ where: { email } }),
    findById: (id: string) => prisma.staff.findUnique({ where: { id } }),
    list: () => prisma.staff.findMany({ orderBy: { createdAt: "asc" } }),

    /** Disables the account and ends its sessions in one transaction. */
    async disable(id: string, now: Date): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const { count } = await tx.staff.updateMany({ where: { id, disabledAt: null }, data: { disabledAt: now } });
        await tx.staffSession.deleteMany({ where: { staffId: id } });
        return count === 1;
      });
    },

    /** Counts a wrong password atomically; answers the new count. */
    async recordPasswordFailure(id: string): Promise<number> {
      const row = await prisma.staff.update({ where: { id }, data: { failedCount: { increment: 1 } }, select: { failedCount: true } });
      return row.failedCount;
    },
    lock: (id: string, until: Date) => prisma.staff.update({ where: { id }, data: { lockedUntil: until, failedCount: 0 } }),
    clearFailures: (id: string) => prisma.staff.updateMany({ where: { id, failedCount: { gt: 0 } }, data: { failedCount: 0 } }),

    /** The staff member's second factor (a TotpFactor under the console's reserved client id) and sessions go. */
    async resetFactor(id: string, factorClientId: string): Promise<void> {
      await prisma.$transaction([prisma.totpFactor.deleteMany({ where: { clientId: factorClientId, subject: id } }), prisma.staffSession.deleteMany({ where: { staffId: id } })]);
    },
  };
}
export type StaffRepo = ReturnType<typeof createStaffRepo>;

export function createStaffSessionRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    create: (input: { idHash: string; staffId: string; expiresAt: Date; lastSeenAt: Date; createdAt: Date }) => prisma.staffSession.create({ data: input }),

    /**
     * The live session with its (enabled) staff member, touched in the same statement: only a
     * session inside both its idle and its absolute expiry is found and extended.
     */
    async touch(idHash: string, now: Date, idleMs: number): Promise<(StaffSession & { staff: Staff }) | null> {
      const { count } = await prisma.staffSession.updateMany({
        where: { idHash, expiresAt: { gt: now }, lastSeenAt: { gt: new Date(now.getTime() - idleMs) } },
        data: { lastSeenAt: now },
      });
      if (count !== 1) return null;
      const session = await prisma.staffSession.findUnique({ where: { idHash } });
      if (!session) return null;
      const staff = await prisma.staff.findUnique({ where: { id: session.staffId } });
      return staff && !staff.disabledAt ? { ...session, staff } : null;
    },

    /** Marks a pending session as past its second factor; false if it was already (or is gone). */
    async passSecondFactor(idHash: string, now: Date): Promise<boolean> {
      const { count } = await prisma.staffSession.updateMany({ where: { idHash, secondFactorAt: null }, data: { secondFactorAt: now } });
      return count === 1;
    },
    end: (idHash: string) => prisma.staffSession.deleteMany({ where: { idHash } }),
    purgeExpired: (now: Date, idleMs: number) =>
      prisma.staffSession.deleteMany({ where: { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lte: new Date(now.getTime() - idleMs) } }] } }),
  };
}
export type StaffSessionRepo = ReturnType<typeof createStaffSessionRepo>;

export interface AuditInput {
  staffId: string | null;
  email: string | null;
  action: string;
  target?: string | null;
  detail?: Record<string, unknown>;
  requestId?: string | null;
  ip?: string | null;
  at: Date;
}

export function createStaffAuditRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    async append(input: AuditInput): Promise<void> {
      await prisma.staffAuditEvent.create({
        data: { staffId: input.staffId, email: input.email, action: input.action, target: input.target ?? null, detail: (input.detail ?? {}) as object, requestId: input.requestId ?? null, ip: input.ip ?? null, at: input.at },
      });
    },
    /** Newest first; `before` is the last seen seq (keyset pagination). */
    list(options: { limit: number; before?: bigint; staffId?: string }): Promise<StaffAuditEvent[]> {
      return prisma.staffAuditEvent.findMany({
        where: { ...(options.before !== undefined ? { seq: { lt: options.before } } : {}), ...(options.staffId ? { staffId: options.staffId } : {}) },
        orderBy: { seq: "desc" },
        take: options.limit,
      });
    },
  };
}
export type StaffAuditRepo = ReturnType<typeof createStaffAuditRepo>;
