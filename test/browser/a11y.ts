/**
 * Accessibility and screenshots for the browser tests: axe-core with the
 * WCAG 2.2 A/AA and best-practice rules (0 violations allowed), run on a
 * screen at desktop (1280×800) and phone (390×844) width, each saved to
 * test-results/screenshots/. Also: keyboard helpers for keyboard-only flows.
 */
import fs from "node:fs";
import path from "node:path";
import axe from "axe-core";
import type { Page } from "playwright-core";
import { SCREENSHOTS } from "./harness";

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

type Violation = { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] };

/** axe-core on the whole page as it is now; fails with the rule, its help text and the offending elements. */
export async function expectAxeClean(page: Page, what: string): Promise<void> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axe.source });
  const violations = await page.evaluate(async (tags) => {
    const w = window as unknown as { axe: typeof axe };
    const r = await w.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target as unknown[], failureSummary: n.failureSummary })),
    }));
  }, AXE_TAGS);
  const report = (violations as Violation[]).map((v) => `${what}: ${v.id} (${v.impact}) ${v.help}\n  ${v.nodes.map((n) => JSON.stringify(n.target) + " " + (n.failureSummary ?? "")).join("\n  ")}`);
  if (report.length > 0) throw new Error(`axe-core found ${report.length} violation(s):\n${report.join("\n")}`);
}

export function shotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}

/**
 * Checks one screen at both widths: `ready` waits for what must be on
 * screen; then axe (0 violations) and a screenshot `<name>-desktop|phone.png`.
 * The viewport is left at desktop width.
 */
export async function checkScreen(page: Page, name: string, ready: () => Promise<unknown>, opts: { fullPage?: boolean } = {}): Promise<void> {
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(size);
    await ready();
    await expectAxeClean(page, `${name} (${label})`);
    await page.screenshot({ path: shotPath(`${name}-${label}`), fullPage: opts.fullPage ?? true });
  }
  await page.setViewportSize(DESKTOP);
}

/** What the focused element is called: aria-label, its <label>s, or its text. */
export async function focusedName(page: Page): Promise<string> {
  return await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return "";
    const labels = (el as HTMLInputElement).labels;
    const name = el.getAttribute("aria-label") ?? (labels && labels.length > 0 ? labels[0].innerText : null) ?? el.innerText ?? "";
    return name.replace(/\s+/g, " ").trim();
  });
}

/** Presses Tab until the focused element's name matches (at most `max` presses); keyboard only. */
export async function tabTo(page: Page, name: RegExp, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (name.test(await focusedName(page))) return;
  }
  throw new Error(`Tab never reached ${name} (last: "${await focusedName(page)}")`);
}
