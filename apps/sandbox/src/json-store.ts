// Small JSON files under .data/sandbox/: what must survive a restart of `pnpm start`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface JsonFile<T> {
  read(): T;
  write(value: T): void;
  update(change: (value: T) => T | undefined): T;
}

export function jsonFile<T>(dir: string, name: string, initial: () => T): JsonFile<T> {
  const path = join(dir, name);
  let cached: T | undefined;
  const read = (): T => {
    if (cached !== undefined) return cached;
    try {
      cached = JSON.parse(readFileSync(path, "utf8")) as T;
    } catch {
      cached = initial();
    }
    return cached;
  };
  const write = (value: T) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Write then rename, so a crash never leaves half a file.
    writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    cached = value;
  };
  return {
    read,
    write,
    update(change) {
      const current = read();
      const next = change(current) ?? current;
      write(next);
      return next;
    },
  };
}
