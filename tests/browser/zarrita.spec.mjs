// zarrita (zarr.js, npm) in headless Debian Chromium reading the Zarr store
// view of mod_h5s3 (docs/zarr.md): the page is zarrita bundled by esbuild
// (both pinned in viewer/package-lock.json) into DIR/zarrita.js with a
// blank DIR/index.html, served by the same httpd as the store (one
// origin); playwright-core drives Chromium.  In the page zarrita opens the
// store through its consolidated .zmetadata, opens an array and reads one
// chunk (getChunk) and one selection (zarr.get).
//
//   node tests/browser/zarrita.spec.mjs --bundle DIR
//   node tests/browser/zarrita.spec.mjs PAGE_URL --store STORE_URL
//        --array PATH --chunk I,J,... [--select A:B,C:D] [--chromium PATH]
//
// The first form only writes the bundle.  The second prints one JSON line
// {"dtype", "shape", "chunks", "chunk": {"shape", "data"}, "select":
// {"shape", "data"}, "requests": [[status, url], ...]} (values as
// strings, so 64-bit integers and NaN survive), then "PASS"; or
// "FAIL: why" and exit code 1.  Run by
// tests/integration/zarr/test_zarr_browser.py, which compares with h5py.

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const VIEWER = resolve(HERE, '../../viewer');
const require = createRequire(join(VIEWER, 'package.json'));

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    bundle: { type: 'string' },
    store: { type: 'string' },
    array: { type: 'string' },
    chunk: { type: 'string', default: '0' },
    select: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});

// Same flags as viewer.spec.mjs: no sandbox (root), no GPU, no traffic
// beyond loopback.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function writeBundle(dir) {
  const esbuild = require('esbuild');
  mkdirSync(dir, { recursive: true });
  await esbuild.build({
    stdin: {
      contents: "import * as zarr from 'zarrita'; window.zarrita = zarr;",
      resolveDir: VIEWER,
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    outfile: join(dir, 'zarrita.js'),
    logLevel: 'warning',
  });
  writeFileSync(join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>zarrita</title>'
    + '<link rel="icon" href="data:,">'
    + '<script src="zarrita.js"></script><p id="ready">zarrita</p>\n');
}

// Runs in the page.
async function readInPage({ store, array, chunk, select }) {
  const z = window.zarrita;
  const s = await z.withConsolidatedMetadata(new z.FetchStore(store),
    { format: 'v2' });
  const arr = await z.open.v2(z.root(s).resolve(array), { kind: 'array' });
  const text = (data) => Array.from(data, (v) => String(v));
  const c = await arr.getChunk(chunk);
  const out = {
    dtype: arr.dtype, shape: arr.shape, chunks: arr.chunks,
    chunk: { shape: c.shape, data: text(c.data) },
  };
  if (select) {
    const sel = select.map(([a, b]) => z.slice(a, b));
    const r = await z.get(arr, sel);
    out.select = { shape: r.shape, data: text(r.data) };
  }
  return out;
}

async function main() {
  if (opt.bundle) {
    await writeBundle(opt.bundle);
    console.log('bundle written to ' + opt.bundle);
    return;
  }
  if (positionals.length !== 1 || !opt.store || !opt.array) {
    console.error('usage: zarrita.spec.mjs PAGE_URL --store URL --array P --chunk I,J');
    process.exit(2);
  }
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: opt.chromium, headless: true, args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage();
    const requests = [];
    page.on('response', (r) => requests.push([r.status(), r.url()]));
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(positionals[0], { timeout: 20000 });
    await page.waitForSelector('#ready', { timeout: 20000 });
    const args = {
      store: opt.store,
      array: opt.array,
      chunk: opt.chunk.split(',').map(Number),
      select: opt.select
        ? opt.select.split(',').map((p) => p.split(':').map(Number))
        : null,
    };
    const out = await page.evaluate(readInPage, args);
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    out.requests = requests;
    console.log(JSON.stringify(out));
    console.log('PASS');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
