// `mailyard admin-user add|passwd|remove|list`: the WebAdmin's administrators, in the shared
// state, SQLite file or PostgreSQL (opened directly: nodes read it at every login, so a change counts at once,
// whether or not a node runs). The password comes from --password or, so it stays out of the
// process list, from the environment variable MAILYARD_ADMIN_PASSWORD.
import type { Settings } from "../config/settings.js";
import { openAdminStoreFor } from "../server/state-stores.js";
import { AdminUserError } from "../admin/web/users.js";
import { systemClock } from "../world/clock.js";
import { CliError, UsageError, type CliIo } from "./io.js";

interface AdminUserValues {
  readonly password?: string | undefined;
  readonly json?: boolean | undefined;
}

function passwordOf(io: CliIo, values: AdminUserValues, verb: string): string {
  const p = values.password ?? io.env["MAILYARD_ADMIN_PASSWORD"];
  if (p === undefined || p === "")
    throw new UsageError(`admin-user ${verb} needs --password P (or MAILYARD_ADMIN_PASSWORD)`);
  return p;
}

export async function adminUserCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  values: AdminUserValues,
): Promise<void> {
  const store = await openAdminStoreFor(settings, systemClock);
  const { users } = store;
  try {
    const [name = ""] = args;
    switch (verb) {
      case "add": {
        const u = await users.add(name, passwordOf(io, values, verb));
        io.out(`admin user ${u.name} added`);
        return;
      }
      case "passwd":
        await users.setPassword(name, passwordOf(io, values, verb));
        io.out(`admin user ${name.toLowerCase()}: password changed`);
        return;
      case "remove":
        await users.remove(name);
        io.out(`admin user ${name.toLowerCase()} removed`);
        return;
      case "list": {
        const list = await users.list();
        if (values.json === true) io.out(JSON.stringify(list, null, 2));
        else if (list.length === 0)
          io.out("no admin users (add one: mailyard admin-user add NAME --password P)");
        else for (const u of list) io.out(`${u.name}\tcreated ${new Date(u.createdAt).toISOString()}`);
        return;
      }
    }
    throw new UsageError(`unknown command: admin-user ${verb}`);
  } catch (e) {
    if (e instanceof AdminUserError) throw new CliError(e.message);
    throw e;
  } finally {
    await store.close();
  }
}
