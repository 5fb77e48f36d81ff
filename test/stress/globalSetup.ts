// One capture directory for the whole stress run: every file saves what it
// saw there (responses, backend logs, the secrets it was issued), and the
// leak scan reads it all. Removed at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    stressCaptureDir: string;
  }
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "keyhole-stress-capture-"));
  project.provide("stressCaptureDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
