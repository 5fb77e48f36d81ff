// The MCP endpoint runs the official SDK server inside the Convex runtime,
// which may forbid generating code from strings (eval / new Function; Ajv,
// the SDK's default JSON Schema validator, compiles that way). This runs the
// real handler — SDK server, transport, zod schemas — bundled, in a Node
// started with --disallow-code-generation-from-strings, with a fake ctx.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { expect, test } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));

test("initialize, tools/list and tools/call work where eval is forbidden", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhole-noeval-"));
  try {
    const out = path.join(dir, "run.mjs");
    await esbuild.build({
      entryPoints: [path.join(here, "fixtures", "no-eval-run.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: out,
      logLevel: "silent",
    });
    const stdout = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", out], {
      encoding: "utf8",
      timeout: 20_000,
    });
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(r.evalBlocked).toBe(true);
    expect(r.init).toMatchObject({ status: 200, body: { result: { serverInfo: { name: "keyhole" } } } });
    expect(r.list.status).toBe(200);
    expect(r.list.body.result.tools).toHaveLength(7);
    expect(r.called.status).toBe(200);
    expect(JSON.parse(r.called.body.result.content[0].text)).toMatchObject({ data: { celsius: 20 } });
    // zod input validation ran (and refused) without eval
    expect(r.invalid.body.result.isError).toBe(true);
    expect(r.invalid.body.result.content[0].text).toContain("Input validation error");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
