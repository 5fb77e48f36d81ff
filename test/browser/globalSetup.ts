/**
 * Resolves the browser once before any test file runs (extracting the bundled
 * Chromium at most once per install) and says which one the browser tests use.
 */
import { findChromium } from "./chromium";

export default async function setup(): Promise<void> {
  const found = await findChromium();
  console.log(`browser tests use ${found.source}: ${found.executablePath}`);
}
