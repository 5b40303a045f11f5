// Generates the Prisma client without the native schema engine: the Prisma CLI insists on
// locating an engine binary even though `generate` never runs it, so point it at any file.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const result = spawnSync("pnpm", ["exec", "prisma", "generate"], {
  cwd: root,
  stdio: "inherit",
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
    CHECKPOINT_DISABLE: "1",
  },
});
if (result.status !== 0) process.exit(result.status ?? 1);

// The generated client loads Prisma's query compiler (WebAssembly) from a module that holds it as
// one base64 string: the module's source and that string stay in the heap for the life of the
// process, and parsing them costs more. Measured on the deployed broker: about 24 MB of RSS. So
// the bytes are written once beside the client, as a .wasm file, and the client compiles that
// file instead (the production build copies it beside its bundles).
const internal = fileURLToPath(new URL("../src/generated/internal/", import.meta.url));
const classFile = `${internal}class.ts`;
const generated = readFileSync(classFile, "utf8");
const loader = /const \{ wasm \} = await import\("(@prisma\/client\/runtime\/(query_compiler_\w+\.\w+)\.wasm-base64\.mjs)"\)\n\s*return await decodeBase64AsWasm\(wasm\)/;
const found = loader.exec(generated);
if (!found) {
  process.stderr.write(`${classFile}: the query compiler loader is not where generate.ts expects it (a new Prisma version?); update generate.ts\n`);
  process.exit(1);
}
const [, base64Module, name] = found;
const require = createRequire(classFile);
const { wasm } = (await import(require.resolve(base64Module!))) as { wasm: string };
const wasmFile = `${name}.wasm`;
writeFileSync(`${internal}${wasmFile}`, Buffer.from(wasm, "base64"));
writeFileSync(
  classFile,
  generated.replace(
    loader,
    `// link-broker (packages/db/scripts/generate.ts): compiled from the file beside this one.\n    const { readFile } = await import("node:fs/promises")\n    return await WebAssembly.compile(await readFile(new URL("./${wasmFile}", import.meta.url)))`,
  ),
);
