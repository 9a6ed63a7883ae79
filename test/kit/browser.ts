// A real headless Chromium for the WebAdmin tests: Debian's /usr/bin/chromium driven by
// playwright-core (which never downloads a browser of its own). One browser per test file,
// closed in t.after also when the test fails; --no-sandbox because tests run as root.
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

type After = { after(fn: () => Promise<void>): void };

export async function startBrowser(t: After): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());
  return browser;
}

/** A fresh profile (no cookies) with one page, console errors collected for assertions. */
export async function newPage(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return { context, page, errors };
}
