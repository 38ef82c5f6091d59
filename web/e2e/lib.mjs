// Helpers for the end-to-end tests: a private parleyd per test file (free port, temp data dir,
// serving web/dist), headless Debian Chromium via playwright-core, and UI steps.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(WEB, '..');
export const SHOTS = join(REPO, 'docs', 'screenshots');

export function parleydBin() {
  const candidates = [process.env.PARLEYD_BIN, join(REPO, 'build/parleyd'), join(REPO, 'build-web/parleyd')].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`parleyd not found (tried ${candidates.join(', ')}); build it or set PARLEYD_BIN`);
  return found;
}

export function cliBin() {
  const candidates = [process.env.PARLEY_CLI_BIN, join(REPO, 'build/parley'), join(REPO, 'build-web/parley')].filter(Boolean);
  return candidates.find((p) => existsSync(p)) ?? null;
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export async function startServer() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-e2e-'));
  // E2E_VITE_PREVIEW=1 (development only): parleyd without its web route, the app from
  // `vite preview` proxying to it — for a parleyd built before the web service existed.
  const vite = process.env.E2E_VITE_PREVIEW === '1';
  const args = [
    '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...(vite ? [] : ['--web-root', join(WEB, 'dist')]), '--log-level', 'warn',
    '--rate-signup-per-min', '0', '--rate-login-per-min', '0', '--rate-send-per-min', '0', '--rate-upload-per-min', '0',
    '--presence-offline-after-ms', '1000',
  ];
  const proc = spawn(parleydBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`parleyd exited: ${stderr}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let preview = null;
  let appBase = base;
  if (vite) {
    const vport = await freePort();
    preview = spawn('npx', ['vite', 'preview', '--port', String(vport), '--strictPort'], { cwd: WEB, env: { ...process.env, PARLEY_URL: base }, stdio: 'ignore' });
    appBase = `http://127.0.0.1:${vport}`;
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(appBase + '/')).ok) break;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    base: appBase,
    api: base,
    port,
    dataDir,
    async stop() {
      preview?.kill('SIGTERM');
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A browser user: its own context (storage), one page; CSP violations and page errors fail. */
export async function newUser(browser, server, name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  const watch = (p) => {
    if (process.env.E2E_DEBUG) p.on('console', (m) => console.log(`    [${name} console.${m.type()}] ${m.text()}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  };
  watch(page);
  await page.goto(server.base + '/');
  return { name, context, page, problems, watch };
}

export async function signup(u, password = 'correct horse battery') {
  const p = u.page;
  await p.getByTestId('tab-signup').click();
  await p.locator('input[name=username]').fill(u.name);
  await p.locator('input[name=display_name]').fill(u.name[0].toUpperCase() + u.name.slice(1));
  await p.locator('input[name=password]').fill(password);
  await p.getByTestId('auth-submit').click();
  await p.getByTestId('me-name').waitFor({ timeout: 30000 });
  await expectText(p.getByTestId('connection'), 'Connected', 30000);
}

export async function expectText(locator, text, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.textContent().catch(() => '')) ?? '';
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected ${locator} to contain ${text}, got ${JSON.stringify(last)}`);
}

export async function waitFor(fn, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

export async function newChat(u, peer) {
  await u.page.getByTestId('new-chat').click();
  await u.page.getByTestId('new-chat-username').fill(peer);
  await u.page.getByTestId('new-chat-start').click();
  await u.page.getByTestId('chat').waitFor();
}

export async function openConversation(u, title) {
  await u.page.locator(`[data-testid=conversation][data-title="${title}"]`).click({ timeout: 15000 });
  await expectText(u.page.getByTestId('chat-title'), title);
}

export async function send(u, text) {
  await u.page.getByTestId('composer').fill(text);
  await u.page.getByTestId('send').click();
  await waitFor(async () => (await u.page.locator('[data-testid=message][data-state=ok]', { hasText: text }).count()) > 0, `"${text}" sent by ${u.name}`);
}

export async function seesMessage(u, text, timeout = 15000) {
  await u.page.locator('[data-testid=message-text]', { hasText: text }).first().waitFor({ timeout });
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export function assertNoProblems(...users) {
  for (const u of users) assert(u.problems.length === 0, `${u.name}: ${u.problems.join(' | ')}`);
}

/** Runs the named tests sequentially against one server and browser; returns [passed, failed]. */
export async function suite(name, tests) {
  const server = await startServer();
  const browser = await launch();
  let passed = 0;
  let failed = 0;
  const ctx = { server, browser, users: {} };
  try {
    for (const [title, fn] of tests) {
      const t0 = Date.now();
      try {
        await fn(ctx);
        passed++;
        console.log(`  ✓ ${name} › ${title} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        for (const [n, u] of Object.entries(ctx.users ?? {})) {
          await u.page?.screenshot({ path: join(tmpdir(), `parley-e2e-failure-${name}-${n}.png`) }).catch(() => undefined);
        }
        console.log(`  ✗ ${name} › ${title} (${Date.now() - t0} ms)\n    ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n    ')}`);
        break; // later steps depend on earlier ones
      }
    }
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop().catch(() => undefined);
  }
  const skipped = tests.length - passed - failed;
  if (skipped) {
    failed += skipped; // steps not reached count as failures, never as skipped
    console.log(`    (${skipped} later step(s) of ${name} not run: counted as failed)`);
  }
  return [passed, failed];
}
