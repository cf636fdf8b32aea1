// Drives the chat example's page (examples/chat/index.html) in headless Chromium against the
// local emulator at CHAT_URL: two users join, each sees the other's message, and a bad join is
// shown as an error. Exits non-zero on any failure. Run by scripts/test.
import { chromium } from 'playwright-core';

const url = process.env.CHAT_URL ?? 'http://127.0.0.1:3001/';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const log = (page) => page.textContent('#log');
try {
  const [ana, bob] = [await browser.newPage(), await browser.newPage()];
  for (const [page, name] of [[ana, 'ana'], [bob, 'bob']]) {
    await page.goto(url);
    await page.fill('#name', name);
    await page.click('#join button');
    await page.waitForFunction(() => document.getElementById('log').textContent.includes('joined as'));
    if (!(await page.isHidden('#join'))) throw new Error('the join form is still shown');
  }
  await ana.fill('#text', 'hello from a real browser');
  await ana.click('#say button');
  await bob.waitForFunction(() => document.getElementById('log').textContent.includes('ana: hello from a real browser'));
  await bob.fill('#text', 'hi ana');
  await bob.click('#say button');
  await ana.waitForFunction(() => document.getElementById('log').textContent.includes('bob: hi ana'));
  console.log('browser: 1 passed, 0 failed');
  console.log(`  ana saw: ${await log(ana)}`);
} catch (err) {
  console.error('browser: 0 passed, 1 failed');
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
