// `link-broker staff create --email --role | disable --email | reset-totp --email | list`
import type { StaffRole } from "../console/staff-repo.ts";
import { str, type CliContext, type CliGroup } from "./cli-command.ts";

const ROLES = ["auditor", "admin"] as const satisfies readonly StaffRole[];

async function servicesOf({ db, config }: CliContext) {
  const [{ systemClock }, { createSealer }, { createTotpRepo }, { createTotpService }, { createStaffAuditRepo, createStaffRepo, createStaffSessionRepo }, { createStaffService }] = await Promise.all([
    import("../clock.ts"),
    import("../crypto/seal.ts"),
    import("../linking/totp-repo.ts"),
    import("../linking/totp-service.ts"),
    import("../console/staff-repo.ts"),
    import("../console/staff-service.ts"),
  ]);
  const sealer = createSealer(config.masterKey);
  const staff = createStaffService({ staff: createStaffRepo(db), sessions: createStaffSessionRepo(db), totp: createTotpService({ repo: createTotpRepo(db), sealer, clock: systemClock }), clock: systemClock });
  const audit = createStaffAuditRepo(db);
  /** The staff audit log records what the CLI did to staff accounts too (actor: the CLI). */
  const record = (action: string, target: { id: string; email: string }) => audit.append({ staffId: null, email: null, action, target: `staff:${target.id}`, detail: { via: "cli", email: target.email }, at: systemClock.now() });
  return { staff, record };
}

async function existing(ctx: CliContext, email: string) {
  const member = await (await servicesOf(ctx)).staff.byEmail(email);
  if (!member) throw new Error(`no staff member with email ${email}`);
  return member;
}

const emailOption = { email: { type: "string" as const, value: "EMAIL", required: true, description: "the staff member's email" } };

export const staffCommands: CliGroup = {
  summary: "compliance staff accounts (console sign-in)",
  commands: {
    create: {
      summary: "create a staff member and print their one-time sign-in setup (password shown once; TOTP is enrolled at first sign-in)",
      access: "write",
      options: { ...emailOption, role: { type: "string", choices: ROLES, required: true, description: "auditor reads; admin may also withdraw consents and disable banks" } },
      run: async (ctx, values) => {
        const { staff, record } = (await servicesOf(ctx));
        const { staff: member, password } = await staff.create(str(values, "email")!, str(values, "role") as StaffRole);
        await record("staff.create", member);
        ctx.out(`created ${member.role} ${member.email} (${member.id})`);
        ctx.out(`one-time password: ${password}`);
        ctx.out(`sign in at ${ctx.config.publicUrl}/console/login: the first sign-in enrols an authenticator app (TOTP, required at every sign-in) and replaces this password with one of their own.`);
        ctx.out("This password is not shown again. Hand it over in person or through a channel you trust.");
      },
    },
    disable: {
      summary: "disable a staff member: their sessions end at once and they cannot sign in",
      access: "write",
      options: emailOption,
      run: async (ctx, values) => {
        const member = await existing(ctx, str(values, "email")!);
        const { staff, record } = (await servicesOf(ctx));
        const changed = await staff.disable(member.id);
        if (changed) await record("staff.disable", member);
        ctx.out(changed ? `disabled ${member.email}; their sessions have ended` : `${member.email} was already disabled`);
      },
    },
    "reset-totp": {
      summary: "remove a staff member's authenticator: their sessions end and the next sign-in enrols a new one",
      access: "write",
      options: emailOption,
      run: async (ctx, values) => {
        const member = await existing(ctx, str(values, "email")!);
        const { staff, record } = (await servicesOf(ctx));
        await staff.resetTotp(member.id);
        await record("staff.reset_totp", member);
        ctx.out(`reset the authenticator of ${member.email}; they enrol a new one at their next sign-in`);
      },
    },
    list: {
      summary: "list staff members with their role and state",
      access: "read",
      run: async (ctx) => {
        const members = await (await servicesOf(ctx)).staff.list();
        if (!members.length) ctx.out("no staff members yet: `link-broker staff create --email you@bank.example --role admin`");
        for (const m of members) ctx.out(`${m.email}  ${m.role}  ${m.disabledAt ? `disabled ${m.disabledAt.toISOString()}` : "enabled"}  created ${m.createdAt.toISOString()}`);
      },
    },
  },
};
