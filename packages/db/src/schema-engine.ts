// Loads Prisma's WebAssembly schema engine WITHOUT `--experimental-wasm-modules`.
// The package's entry (`schema_engine.js`) does `import * as wasm from "./schema_engine_bg.wasm"`,
// which Node 20 cannot do unflagged. We instead import the wasm-bindgen glue
// (`schema_engine_bg.js`), instantiate the .wasm bytes ourselves with the glue as the
// import object, then hand the exports back via `__wbg_set_wasm` — exactly what the entry does.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";

export type { SchemaEngine };

type Glue = typeof import("@prisma/schema-engine-wasm/schema_engine_bg");
type Imports = Record<string, unknown>;
// Minimal typing: lib "ES2023" + @types/node 20 has no WebAssembly namespace.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: Record<string, Imports>): Promise<{ instance: { exports: Imports } }>;
};

// The glue keeps the wasm instance in module state, so instantiate once per process.
let gluePromise: Promise<Glue> | undefined;

function initWasm(): Promise<Glue> {
  gluePromise ??= (async () => {
    const glueUrl = import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const glue: Glue = await import(glueUrl);
    const bytes = await readFile(fileURLToPath(new URL("./schema_engine_bg.wasm", glueUrl)));
    // The wasm has a single import module, named after the glue file. The engine uses setTimeout
    // only for timeouts it never clears (e.g. the 10 s advisory-lock timeout): unref them, or
    // every process that ran a migration stays alive ~10 s after it is done.
    const imports: Imports = { ...glue };
    for (const name of Object.keys(imports).filter((n) => n.startsWith("__wbg_setTimeout_"))) {
      imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
    }
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": imports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue;
  })();
  gluePromise.catch(() => (gluePromise = undefined));
  return gluePromise;
}

export interface LoadOptions {
  /** File name reported in engine errors; defaults to "schema.prisma". */
  schemaFileName?: string;
  /** Receives engine log lines (JSON strings). */
  onLog?: (line: string) => void;
}

export type LoadedSchemaEngine = SchemaEngine & {
  /** free() the engine AND dispose the main adapter connection (the engine never does; a pg Pool would
   *  keep the process alive ~10 s). Shadow connections are disposed by the engine itself. */
  dispose(): Promise<void>;
};

/**
 * Create a schema engine bound to a driver adapter factory that also implements
 * `connectToShadowDb()` (needed by diff from `migrations`). The factory is wrapped with
 * `bindMigrationAwareSqlAdapterFactory` here — pass the raw factory. Call `dispose()` when done.
 */
export async function loadSchemaEngine(
  schemaText: string,
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  opts: LoadOptions = {},
): Promise<LoadedSchemaEngine> {
  const glue = await initWasm();
  const opened: SqlDriverAdapter[] = [];
  const tracking: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: async () => {
      const a = await adapterFactory.connect();
      opened.push(a);
      return a;
    },
    connectToShadowDb: () => adapterFactory.connectToShadowDb(),
  };
  const engine = await glue.SchemaEngine.new(
    { datamodels: [[opts.schemaFileName ?? "schema.prisma", schemaText]] },
    (line: string) => opts.onLog?.(line),
    bindMigrationAwareSqlAdapterFactory(tracking),
  );
  return Object.assign(engine, {
    async dispose() {
      engine.free();
      await Promise.all(opened.splice(0).map((a) => a.dispose()));
    },
  });
}
