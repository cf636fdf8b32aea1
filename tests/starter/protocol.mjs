// The starter's protocol through lift-emulator, with the starter's deployed binary running under
// `cargo lambda watch` (scripts/check-starter starts both): real WebSocket clients (Node's own),
// the function's Management API calls answered by the emulator.
//
//     node --experimental-websocket protocol.mjs ws://127.0.0.1:PORT
import assert from "node:assert/strict";
import http from "node:http";

const url = process.argv[2];
const base = url.replace("ws://", "http://");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client whose frames queue up; `next()` waits for the next one. */
function open(name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/?name=${name}`);
    const frames = [];
    const waiting = [];
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      const waiter = waiting.shift();
      if (waiter) waiter(frame);
      else frames.push(frame);
    };
    ws.onopen = () =>
      resolve({
        ws,
        frames,
        send: (body) => ws.send(JSON.stringify(body)),
        next: (ms = 20000) =>
          frames.length > 0
            ? Promise.resolve(frames.shift())
            : new Promise((res, rej) => {
                const timer = setTimeout(() => rej(new Error(`${name}: no frame in ${ms} ms`)), ms);
                waiting.push((frame) => {
                  clearTimeout(timer);
                  res(frame);
                });
              }),
      });
    ws.onerror = () => reject(new Error(`${name}: the handshake failed`));
  });
}

/** The HTTP status of a handshake to `path`. */
function handshakeStatus(path) {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}${path}`, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve(response.statusCode);
    });
    request.on("response", (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on("error", reject);
  });
}

async function inspector() {
  const response = await fetch(`${base}/_lift/state`);
  return response.json();
}

async function eventually(what, check) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`never: ${what}`);
}

// $connect refuses a connection without a name: the function's 400 is the handshake's.
assert.equal(await handshakeStatus("/"), 400, "no name: 400");

const ana = await open("ana");
const ben = await open("ben");

// A two-way route: the function's answer is the reply.
ana.send({ action: "echo", text: "hi" });
assert.deepEqual(await ana.next(), { text: "hi" });

// A one-way route broadcasting to the room: each member gets it through the Management API.
ana.send({ action: "say", text: "hello all" });
const said = { type: "said", from: "ana", text: "hello all" };
assert.deepEqual(await ana.next(), said);
assert.deepEqual(await ben.next(), said);

// No such route and no $default handler: the app's error frame.
ana.send({ action: "nope" });
assert.equal((await ana.next()).code, "unknown_route");

// A disconnect reaches the function: ben leaves the room.
const disconnects = async () =>
  (await inspector()).events.filter((e) => e.route === "$disconnect" && e.status === 200).length;
const before = await disconnects();
ben.ws.close(1000, "bye");
await eventually("ben's $disconnect handled", async () => (await disconnects()) === before + 1);
ana.send({ action: "say", text: "just us" });
assert.deepEqual(await ana.next(), { type: "said", from: "ana", text: "just us" });
await sleep(300);
assert.deepEqual(ben.frames, [], "ben got nothing after leaving");

// What the function sent went through the emulator's Management API, every call answered 200.
const state = await inspector();
const posts = state.calls.filter((call) => call.method === "POST");
assert.ok(posts.length >= 4, JSON.stringify(state.calls));
assert.ok(posts.every((call) => call.status === 200), JSON.stringify(posts));
const routes = state.events.map((e) => `${e.route} ${e.status}`);
for (const expected of ["$connect 400", "$connect 200", "echo 200", "say 200", "$disconnect 200"]) {
  assert.ok(routes.includes(expected), `${expected} in ${routes}`);
}
ana.ws.close();
console.log(`ok - the starter under cargo lambda watch behind lift-emulator: ${routes.length} events, ${posts.length} Management API posts`);
