// Debian's Chromium driven by playwright-core, as every browser test starts it: headless, in a fresh profile, with
// the flags that keep it off the network this machine does not have; and a page opener that records whatever a page
// throws, logs as an error (4xx responses aside) or pops up, so a test can assert there was none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'pros-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 },
    });
    return {
      context,
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Opens `url` in a new page; what goes wrong on it is pushed to `problems`, prefixed with `label`. */
export async function openPage(browser: Browser, url: string, problems: string[], label = url): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => problems.push(`${label}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`${label}: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`${label}: dialog ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(url);
  return page;
}
