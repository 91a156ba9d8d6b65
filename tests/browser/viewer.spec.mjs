// Browser test of the viewer page (viewer/, served by httpd at /viewer/):
// headless Debian Chromium driven by playwright-core.  Opens the page,
// picks a file from the bucket listing, expands a group in H5Web's
// explorer, opens a 2-D dataset and checks that the heatmap and then the
// line view are drawn; saves screenshots.
//
//   node tests/browser/viewer.spec.mjs URL [--file KEY] [--group PATH]
//        [--dataset PATH] [--expect TEXT]... [--out DIR] [--chromium PATH]
//
// Prints one "ok ..." line per step, "api GET STATUS PATH" for every
// API call the page made, then "PASS", or "FAIL: why" and exit code 1
// (with viewer-failure.png) on the first failed step.  Run by
// tests/integration/viewer/test_browser.py against a real httpd + RGW.

import { createRequire } from 'node:module';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
// playwright-core is a devDependency of the viewer project (one lockfile).
const require = createRequire(resolve(HERE, '../../viewer/package.json'));
const { chromium } = require('playwright-core');

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    file: { type: 'string', default: 'viewer/demo.h5' },
    group: { type: 'string', default: '/measurements' },
    dataset: { type: 'string', default: '/measurements/image' },
    out: { type: 'string', default: join(HERE, 'artifacts') },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    // Text the heatmap view must show, e.g. the colour bar's limits.
    expect: { type: 'string', multiple: true, default: [] },
  },
});
if (positionals.length !== 1) {
  console.error('usage: viewer.spec.mjs URL [--file KEY] [--group P] [--dataset P]');
  process.exit(2);
}
const pageUrl = positionals[0];
const STEP_MS = 20000;

// What works in this sandbox (no network beyond loopback, running as
// root): no sandbox, no GPU, no background traffic to Google's hosts.
// WebGL (H5Web draws with three.js) runs on SwiftShader, in software.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

function step(msg) {
  console.log(`ok ${msg}`);
}

// Distinct colours in a PNG of an element, counted by the page itself
// (a WebGL canvas cannot be read back once drawn; a screenshot can).
async function distinctColours(page, locator) {
  const png = await locator.screenshot();
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < px.length; i += 4) {
      seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
    return seen.size;
  }, png.toString('base64'));
}

async function main() {
  mkdirSync(opt.out, { recursive: true });
  const shots = ['viewer-heatmap.png', 'viewer-line.png', 'viewer-failure.png'];
  for (const f of shots) rmSync(join(opt.out, f), { force: true });
  const problems = [];
  const apiCalls = [];
  let failure = 'did not finish';
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: opt.chromium,
      headless: true,
      // playwright starts it with a new, empty profile of its own.
      args: CHROMIUM_ARGS,
      timeout: STEP_MS,
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(STEP_MS);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      const why = r.failure()?.errorText;
      // H5Web cancels value requests it no longer needs (AbortController);
      // a server that fails shows as a reset or an empty response instead.
      if (why === 'net::ERR_ABORTED') {
        console.log(`note: the page cancelled ${r.url()}`);
      } else {
        problems.push(`request failed: ${r.url()} ${why}`);
      }
    });
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.pathname.includes('/h5grove/') || u.pathname.endsWith('/files')) {
        apiCalls.push(`${r.status()} ${u.pathname}${u.search}`);
      }
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });

    await page.goto(pageUrl, { waitUntil: 'load' });
    step(`page loaded: ${await page.title()}`);

    const item = page.locator(`[data-testid="file-item"][data-key="${opt.file}"]`);
    await item.waitFor();
    const listed = await page.locator('[data-testid="file-item"]').count();
    step(`listing shows ${listed} HDF5 file(s), ${opt.file} among them`);
    await item.click();
    // The opened file is kept in the address (?file=KEY) for bookmarks.
    await page.waitForURL((u) => u.searchParams.get('file') === opt.file);

    const group = page.locator(`[role="treeitem"][data-path="${opt.group}"]`);
    await group.waitFor();
    step(`file opened in H5Web: explorer shows ${opt.group}`);
    await group.click();
    const ds = page.locator(`[role="treeitem"][data-path="${opt.dataset}"]`);
    await ds.waitFor();
    step(`group ${opt.group} expanded: ${opt.dataset} listed`);
    await ds.click();

    const tabs = page.getByRole('tablist', { name: 'Visualization' });
    const heatTab = tabs.getByRole('tab', { name: 'Heatmap' });
    await heatTab.waitFor();
    if ((await heatTab.getAttribute('aria-selected')) !== 'true') {
      await heatTab.click();
    }
    const canvas = page.locator('[data-testid="h5web"] canvas').first();
    await canvas.waitFor({ state: 'visible' });
    // The heatmap is drawn once its values arrive: wait for the colours.
    let colours = 0;
    for (const end = Date.now() + STEP_MS; Date.now() < end; ) {
      colours = await distinctColours(page, canvas);
      if (colours >= 32) break;
      await page.waitForTimeout(250);
    }
    if (colours < 32) {
      throw new Error(`heatmap canvas has only ${colours} colours: not drawn`);
    }
    step(`heatmap canvas drawn (${colours} colours)`);
    for (const text of opt.expect) {
      await page
        .locator('[data-testid="h5web"]')
        .getByText(text, { exact: true })
        .filter({ visible: true })
        .first()
        .waitFor();
      step(`heatmap view shows "${text}"`);
    }
    const heatPng = join(opt.out, 'viewer-heatmap.png');
    await page.screenshot({ path: heatPng });
    step(`screenshot ${heatPng}`);

    await tabs.getByRole('tab', { name: 'Line' }).click();
    await page.waitForFunction(() => {
      const t = [...document.querySelectorAll('[role="tab"]')].find(
        (b) => b.textContent === 'Line',
      );
      return t && t.getAttribute('aria-selected') === 'true';
    });
    const lineCanvas = page.locator('[data-testid="h5web"] canvas').first();
    await lineCanvas.waitFor({ state: 'visible' });
    let lineColours = 0;
    for (const end = Date.now() + STEP_MS; Date.now() < end; ) {
      lineColours = await distinctColours(page, lineCanvas);
      if (lineColours >= 3) break;
      await page.waitForTimeout(250);
    }
    if (lineColours < 3) throw new Error('line canvas is blank');
    step(`line view drawn (${lineColours} colours)`);
    const linePng = join(opt.out, 'viewer-line.png');
    await page.screenshot({ path: linePng });
    step(`screenshot ${linePng}`);

    if (problems.length > 0) {
      throw new Error(`the page reported problems:\n  ${problems.join('\n  ')}`);
    }
    failure = null;
  } catch (e) {
    failure = e.message;
    if (browser) {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) {
        await pages[0]
          .screenshot({ path: join(opt.out, 'viewer-failure.png') })
          .catch(() => {});
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  for (const c of apiCalls) console.log(`api GET ${c}`);
  if (failure) {
    console.log(`FAIL: ${failure}`);
    process.exitCode = 1;
  } else {
    console.log('PASS');
  }
}

await main();
