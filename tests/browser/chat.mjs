// Drives the chat example's page (examples/chat/index.html, on the chat's generated TypeScript
// client, examples/chat/client.js) in headless Chromium against the local emulator at CHAT_URL: two users join and chat, join a room and talk in it, leave it;
// then, against a second chat at CHAT_JWT_URL that requires tokens (LIFT_JWT_SECRET =
// CHAT_JWT_SECRET), a user joins with a token sent as a WebSocket subprotocol and a bad token is
// refused; the emulator's inspector page shows the connections, rooms, events and calls of the
// first; then, against a third chat at CHAT_FANOUT_URL whose fan-out threshold is 1 (so every
// broadcast past one member goes through the emulator's fan-out queue), three tabs each see a
// message exactly once. Exits non-zero on any failure. Run by scripts/test.
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const url = process.env.CHAT_URL ?? 'http://127.0.0.1:3001/';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const log = (page) => page.textContent('#log');
const sees = (page, text) => page.waitForFunction(
  (t) => document.getElementById('log').textContent.includes(t), text, { timeout: 10000 });
const b64url = (value) => Buffer.from(value).toString('base64url');
const hs256 = (claims, secret) => {
  const body = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
};
let passed = 0;
try {
  // Two users chat.
  const [ana, bob] = [await browser.newPage(), await browser.newPage()];
  for (const [page, name] of [[ana, 'ana'], [bob, 'bob']]) {
    await page.goto(url);
    await page.fill('#name', name);
    await page.click('#join button');
    await sees(page, 'joined as');
    if (!(await page.isHidden('#join'))) throw new Error('the join form is still shown');
  }
  await ana.fill('#text', 'hello from a real browser');
  await ana.click('#say button');
  await sees(bob, 'ana: hello from a real browser');
  await bob.fill('#text', 'hi ana');
  await bob.click('#say button');
  await sees(ana, 'bob: hi ana');
  // Who is here: each page lists both users (presence), bob's arrival announced to ana.
  const lists = (page, names) => page.waitForFunction(
    (n) => [...document.querySelectorAll('#users li')].map((li) => li.textContent).join(',') === n,
    names.join(','), { timeout: 10000 });
  await sees(ana, 'bob is here');
  await lists(ana, ['ana', 'bob']);
  await lists(bob, ['ana', 'bob']);
  passed++;

  // A room: both join, ana talks in it (the room is selected once joined), then leaves.
  for (const page of [ana, bob]) {
    await page.fill('#room', 'rust');
    await page.click('#enter');
    await sees(page, 'you joined room rust');
  }
  if ((await ana.inputValue('#to')) !== 'rust') throw new Error('the joined room is not selected');
  // A refused call: the generated client rejects the `join` promise with the error frame's code.
  await ana.fill('#room', '$reserved');
  await ana.click('#enter');
  await sees(ana, 'error bad_request: room names starting with `$` are reserved');
  await ana.fill('#room', 'rust');
  await ana.fill('#text', 'rooms work');
  await ana.click('#say button');
  await sees(bob, '[rust] ana: rooms work');
  await ana.click('#exit');
  await sees(ana, 'you left room rust');
  if ((await ana.inputValue('#to')) !== '') throw new Error('the left room is still offered');
  passed++;

  // The emulator's inspector: ana and bob, their rooms, the events and Management API calls.
  const inspector = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await inspector.goto(new URL('/_lift', url).href);
  const shows = (selector, text) => inspector.waitForFunction(
    ([s, t]) => document.querySelector(s).textContent.includes(t), [selector, text], { timeout: 10000 });
  await shows('#connections', 'ana');
  await shows('#connections', 'bob');
  await shows('#rooms', '$everyone');
  await shows('#events', 'sendMessage');
  await shows('#events', '$connect');
  await shows('#calls', 'POST');
  // It refreshes by itself: a new message shows up without a reload.
  const rows = await inspector.evaluate(() => document.querySelectorAll('#events tbody tr').length);
  await bob.fill('#text', 'seen live');
  await bob.click('#say button');
  await inspector.waitForFunction(
    (before) => document.querySelectorAll('#events tbody tr').length > before, rows, { timeout: 10000 });
  await shows('#rooms', 'bob (');
  if (process.env.INSPECTOR_SCREENSHOT) {
    await inspector.screenshot({ path: process.env.INSPECTOR_SCREENSHOT, fullPage: true });
  }
  passed++;

  // Tokens, against the chat that requires them.
  const jwtUrl = process.env.CHAT_JWT_URL;
  const secret = process.env.CHAT_JWT_SECRET;
  if (!jwtUrl || !secret) throw new Error('CHAT_JWT_URL and CHAT_JWT_SECRET are not set');
  const exp = Math.floor(Date.now() / 1000) + 600;
  const carol = await browser.newPage();
  await carol.goto(jwtUrl);
  await carol.fill('#token', hs256({ sub: 'u-carol', name: 'carol', exp }, secret));
  await carol.click('#join button');
  await sees(carol, 'joined as carol');
  await carol.fill('#text', 'signed in');
  await carol.click('#say button');
  await sees(carol, 'carol: signed in');
  const mallory = await browser.newPage();
  await mallory.goto(jwtUrl);
  await mallory.fill('#token', hs256({ sub: 'mallory', name: 'mallory', exp }, 'not-the-secret'));
  await mallory.click('#join button');
  await sees(mallory, 'the server refused the connection');
  passed++;

  // Fan-out: three tabs in a chat whose broadcasts are handed to the queue past one member.
  const fanoutUrl = process.env.CHAT_FANOUT_URL;
  if (!fanoutUrl) throw new Error('CHAT_FANOUT_URL is not set');
  const tabs = [];
  for (const name of ['dan', 'eve', 'fay']) {
    const page = await browser.newPage();
    await page.goto(fanoutUrl);
    await page.fill('#name', name);
    await page.click('#join button');
    await sees(page, 'joined as');
    tabs.push(page);
  }
  await tabs[0].fill('#text', 'through the queue');
  await tabs[0].click('#say button');
  for (const page of tabs) await sees(page, 'dan: through the queue');
  await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would be here by now
  for (const page of tabs) {
    const seen = (await log(page)).split('dan: through the queue').length - 1;
    if (seen !== 1) throw new Error(`a tab saw the message ${seen} times`);
  }
  passed++;

  console.log(`browser: ${passed} passed, 0 failed`);
  console.log(`  ana saw: ${await log(ana)}`);
  console.log(`  carol saw: ${await log(carol)}`);
} catch (err) {
  console.error(`browser: ${passed} passed, 1 failed`);
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
