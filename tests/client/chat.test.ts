// The generated chat client (generated/chat.ts, from `chat typescript`), driven from Node:
//
// - against the chat example on the emulator (CHAT_URL, e.g. http://127.0.0.1:3001/): two
//   clients, overlapping two-way calls resolved to the right caller, pushed frames typed by
//   their "type", error frames rejecting the right promise (and one-way errors as events), a
//   refused handshake, the keep-alive `ping` answered with no event reaching the app (the
//   emulator's inspector journal shows none), and the session resumed after the emulator drops
//   the socket or ends it (its inspector's `POST /_lift/close/{id}`);
// - against a WebSocket server of the `ws` package standing in for API Gateway where the chat
//   cannot show it: a reply that never comes (timeout), a connection that drops (1006) or is
//   ended (1001) and comes back with jittered backoff, messages sent meanwhile delivered after
//   the reconnect, the idle keep-alive, `close()` for good.
//
// Compiled with tsc --strict (tsconfig.node.json) and run with `node --experimental-websocket`
// (Node 20's built-in WebSocket) by scripts/test. Exits non-zero on the first failure.
import assert from "node:assert/strict";
import { AddressInfo } from "node:net";
import { WebSocketServer, WebSocket as WsSocket } from "ws";

import { connect, LiftError, type ChatMessage, type ErrorFrame } from "./generated/chat.js";

const base = new URL(process.env.CHAT_URL ?? "http://127.0.0.1:3001/");
const wsUrl = `ws://${base.host}`;

/** Resolves with the first event `register` delivers, or fails after `ms`. */
function next<T>(register: (resolve: (value: T) => void) => void, what: string, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<LiftError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LiftError, `not a LiftError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  throw new Error(`resolved, expected a LiftError ${code}`);
}

interface Journal {
  events: Array<{ route: string; connection: string; status: number; code: string | null }>;
}

async function journal(): Promise<Journal> {
  const response = await fetch(new URL("/_lift/state", base));
  return (await response.json()) as Journal;
}

let passed = 0;
const test = async (name: string, body: () => Promise<void>) => {
  await body();
  passed++;
  console.log(`ok - ${name}`);
};

await test("two clients, overlapping calls matched to their callers", async () => {
  const ana = await connect(wsUrl, { query: { name: "ana" } });
  const bob = await connect(wsUrl, { query: { name: "bob" } });
  const [anaR1, anaR2, anaMe, bobMe, bobR1, anaLeft] = await Promise.all([
    ana.join({ room: "r1" }),
    ana.join({ room: "r2" }),
    ana.whoami(),
    bob.whoami(),
    bob.join({ room: "r1" }),
    ana.leave({ room: "r2" }),
  ]);
  assert.deepEqual([anaR1.type, anaR1.room], ["joined", "r1"]);
  assert.deepEqual([anaR2.type, anaR2.room], ["joined", "r2"]);
  assert.deepEqual([anaLeft.type, anaLeft.room], ["left", "r2"]);
  assert.equal(anaMe.name, "ana");
  assert.equal(bobMe.name, "bob");
  assert.notEqual(anaMe.connectionId, bobMe.connectionId);
  assert.equal(bobR1.room, "r1");
  // Twenty calls at once on one connection, each answered with its own room.
  const rooms = Array.from({ length: 20 }, (_, i) => `many-${i}`);
  const replies = await Promise.all(rooms.map((room) => bob.join({ room })));
  assert.deepEqual(replies.map((r) => r.room), rooms);

  // Pushed frames, typed by their "type": a room message reaches bob, to the room.
  const got = next<ChatMessage>((resolve) => bob.on("message", (m) => {
    if (m.text === "hi r1") resolve(m);
  }), "bob's message");
  ana.sendMessage({ text: "hi r1", room: "r1" });
  const message = await got;
  assert.equal(message.type, "message");
  assert.equal(message.from, "ana");
  assert.equal(message.room, "r1");

  // An error frame rejects the call it is about, and only that one.
  const [bad, good] = await Promise.allSettled([ana.join({ room: "$reserved" }), ana.join({ room: "ok" })]);
  assert.equal(bad.status, "rejected");
  assert.equal(good.status, "fulfilled");
  const error = await rejectsWith(ana.leave({ room: "" }), "bad_request");
  assert.equal(error.frame?.type, "error");
  assert.equal(typeof error.frame?.requestId, "number");

  // A one-way message's error frame comes as an `error` event.
  const oneWay = next<ErrorFrame>((resolve) => ana.on("error", resolve), "ana's error event");
  ana.sendMessage({ text: "nobody", room: "not-joined" });
  const frame = await oneWay;
  assert.equal(frame.code, "not_in_room");
  assert.equal(frame.requestId, undefined);

  // The keep-alive: answered, with no event reaching the app (the journal shows none).
  const events = (j: Journal) => j.events.filter((e) => e.connection === anaMe.connectionId);
  const before = events(await journal());
  await ana.ping();
  await ana.ping();
  await ana.whoami(); // an event that does reach the app, after the pings
  const after = events(await journal());
  assert.equal(after.length, before.length + 1, JSON.stringify(after.slice(before.length)));
  assert.equal(after[after.length - 1]?.route, "whoami");
  assert.ok(after.every((e) => e.route !== "ping"));

  ana.close();
  bob.close();
  await rejectsWith(ana.whoami(), "closed");
});

await test("the client resumes its session: back in its rooms after a drop and a 1001", async () => {
  const ana = await connect(wsUrl, { query: { name: "ana" }, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
  const bob = await connect(wsUrl, { query: { name: "bob" } });
  assert.match(ana.session ?? "", /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(ana.session, bob.session);
  await Promise.all([ana.join({ room: "resume" }), bob.join({ room: "resume" })]);
  let id = (await ana.whoami()).connectionId;
  // 1006: the emulator drops the socket (a lost network); 1001: it ends it as API Gateway
  // does after 2 hours. Either way the client reconnects with its session and is back in
  // the room without joining it again.
  for (const code of [1006, 1001]) {
    const reopened = next<{ reconnected: boolean }>((resolve) => ana.on("open", resolve), "the reconnect");
    const closed = next<{ code: number }>((resolve) => ana.on("close", resolve), "the close");
    const response = await fetch(new URL(`/_lift/close/${encodeURIComponent(id)}?code=${code}`, base), {
      method: "POST",
    });
    assert.equal(response.status, 204);
    assert.equal((await closed).code, code);
    assert.equal((await reopened).reconnected, true);
    const text = `after ${code}`;
    const got = next<ChatMessage>((resolve) => ana.on("message", (m) => {
      if (m.text === text) resolve(m);
    }), `the room message after ${code}`);
    bob.sendMessage({ room: "resume", text });
    assert.equal((await got).room, "resume");
    const now = (await ana.whoami()).connectionId;
    assert.notEqual(now, id);
    id = now;
  }
  ana.close();
  bob.close();
});

await test("history: no room message is lost or doubled when the socket is killed under the client", async () => {
  const ana = await connect(wsUrl, { query: { name: "ana" }, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
  const bob = await connect(wsUrl, { query: { name: "bob" } });
  await Promise.all([ana.join({ room: "history" }), bob.join({ room: "history" })]);
  const texts: string[] = [];
  const seqs: number[] = [];
  ana.on("message", (m) => {
    if (m.room !== "history") return;
    texts.push(m.text);
    seqs.push((m as { seq?: number }).seq ?? -1);
  });
  const replays: Array<{ replayed: number; missed: boolean }> = [];
  ana.on("replayed", (report) => replays.push(report));
  let id = (await ana.whoami()).connectionId;
  const total = 300;
  for (let i = 1; i <= total; i++) {
    bob.sendMessage({ room: "history", text: `h${i}` });
    if (i % 50 === 25) {
      // A client replays a room once it has had a numbered message of it (before that it does
      // not know where the room is): the first kill waits for one.
      await next<void>((resolve) => {
        const poll = setInterval(() => {
          if (texts.length > 0) {
            clearInterval(poll);
            resolve();
          }
        }, 5);
      }, "ana's first history message");
      // The socket dies under the client (1006, a lost network) while bob goes on talking.
      const reopened = next<{ reconnected: boolean }>((resolve) => ana.on("open", resolve), "the reconnect");
      const response = await fetch(new URL(`/_lift/close/${encodeURIComponent(id)}?code=1006`, base), {
        method: "POST",
      });
      assert.equal(response.status, 204);
      await reopened;
      id = (await ana.whoami()).connectionId;
    }
  }
  await next<void>((resolve) => {
    const poll = setInterval(() => {
      if (texts.length >= total) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  }, `${total} messages (${texts.length} so far)`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(texts, Array.from({ length: total }, (_, i) => `h${i + 1}`));
  assert.ok(seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] ?? 0) + 1), `seqs ${seqs.join(",")}`);
  assert.ok(replays.length >= 6, `${replays.length} replays`);
  assert.ok(replays.every((r) => !r.missed));
  // What bob said while ana was away came back by replay.
  assert.ok(replays.some((r) => r.replayed > 0), JSON.stringify(replays));
  ana.close();
  bob.close();
});

await test("a refused handshake rejects connect", async () => {
  // The chat refuses a connection without a name (400).
  await rejectsWith(connect(wsUrl, { reconnect: false }), "refused");
});

/** A WebSocket server of the `ws` package on a free loopback port. */
async function server(): Promise<{ wss: WebSocketServer; url: string; sockets: WsSocket[]; received: string[] }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await next<void>((resolve) => wss.on("listening", () => resolve()), "the test server");
  const sockets: WsSocket[] = [];
  const received: string[] = [];
  wss.on("connection", (socket) => {
    sockets.push(socket);
    socket.on("message", (data) => {
      const text = String(data);
      received.push(text);
      const frame = JSON.parse(text) as { action?: string };
      if (frame.action === "ping") socket.send(JSON.stringify({ type: "pong" }));
    });
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, sockets, received };
}

await test("a reply that never comes times out; a drop rejects what waits", async () => {
  const { wss, url, sockets } = await server();
  const chat = await connect(url, { reconnect: false, timeoutMs: 200 });
  await rejectsWith(chat.whoami(), "timeout");
  await rejectsWith(chat.join({ room: "r" }, { timeoutMs: 50 }), "timeout");
  const waiting = chat.whoami(undefined, { timeoutMs: 10_000 });
  const closed = next<{ code: number; willReconnect: boolean }>((resolve) => chat.on("close", resolve), "close");
  sockets[0]?.terminate();
  await rejectsWith(waiting, "disconnected");
  const event = await closed;
  assert.equal(event.code, 1006);
  assert.equal(event.willReconnect, false);
  wss.close();
});

await test("reconnects with jittered backoff after 1006 and 1001, and sends what waited", async () => {
  const { wss, url, sockets, received } = await server();
  const chat = await connect(url, { reconnect: { minDelayMs: 40, maxDelayMs: 400 } });
  const seen: string[] = [];
  chat.on("close", (e) => seen.push(`close ${e.code} ${e.willReconnect}`));
  chat.on("reconnecting", (e) => {
    assert.ok(e.delayMs >= 20 && e.delayMs <= 40, `attempt ${e.attempt} in ${e.delayMs} ms`);
    seen.push(`reconnecting ${e.attempt} ${e.code}`);
  });
  const reopened = () => next<{ reconnected: boolean }>((resolve) => chat.on("open", resolve), "open");

  let open = reopened();
  const away = next<unknown>((resolve) => chat.on("reconnecting", resolve), "reconnecting");
  sockets[0]?.terminate(); // a dropped network: 1006
  await away;
  chat.sendMessage({ text: "sent while away" }); // waits for the new connection
  assert.equal((await open).reconnected, true);
  open = reopened();
  sockets[1]?.close(1001, "Going away"); // API Gateway's end after 2 hours
  assert.equal((await open).reconnected, true);
  assert.deepEqual(seen, ["close 1006 true", "reconnecting 1 1006", "close 1001 true", "reconnecting 1 1001"]);
  assert.equal(sockets.length, 3);
  await next<void>((resolve) => {
    const check = () => (received.some((r) => r.includes("sent while away")) ? resolve() : setTimeout(check, 10));
    check();
  }, "the waiting message");
  assert.deepEqual(JSON.parse(received.find((r) => r.includes("sent while away")) ?? "{}"), {
    text: "sent while away",
    action: "sendMessage",
  });

  // close() is for good: no reconnect.
  const closed = next<{ willReconnect: boolean }>((resolve) => chat.on("close", resolve), "close");
  chat.close();
  assert.equal((await closed).willReconnect, false);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(sockets.length, 3);
  wss.close();
});

await test("getToken: a token on each connect, and a fresh one presented before it expires", async () => {
  const { wss, url, sockets, received } = await server();
  const tokenAt = new Map<WsSocket, string | null>();
  wss.on("connection", (socket, request) => {
    tokenAt.set(socket, new URL(request.url ?? "/", "ws://x").searchParams.get("token"));
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { action?: string; requestId?: number; token?: string };
      if (frame.action === "lift:token") {
        socket.send(JSON.stringify({ type: "token", exp: 0, requestId: frame.requestId }));
      }
    });
  });
  // Unsigned tokens are enough for a stand-in server: the client reads only their `exp`.
  let issued = 0;
  const getToken = () => {
    issued++;
    const payload = Buffer.from(JSON.stringify({ sub: "ana", n: issued, exp: Math.floor(Date.now() / 1000) + 62 }))
      .toString("base64url");
    return Promise.resolve(`eyJhbGciOiJub25lIn0.${payload}.sig${issued}`);
  };
  const chat = await connect(url, { getToken, reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
  assert.equal(issued, 1);
  assert.match(tokenAt.get(sockets[0]!) ?? "", /sig1$/);
  // A minute before it expires (here: in two seconds), a fresh one on the open connection.
  await next<void>((resolve) => {
    const poll = setInterval(() => {
      if (received.some((r) => r.includes("lift:token"))) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  }, "the fresh token", 5_000);
  const presented = JSON.parse(received.find((r) => r.includes("lift:token")) ?? "{}") as { token?: string };
  assert.match(presented.token ?? "", /sig2$/);
  assert.equal(sockets.length, 1, "no reconnect for it");
  // After a drop, the reconnect asks for a token again.
  const reopened = next<{ reconnected: boolean }>((resolve) => chat.on("open", resolve), "the reconnect");
  sockets[0]?.terminate();
  await reopened;
  assert.match(tokenAt.get(sockets[1]!) ?? "", /sig3$/);
  chat.close();
  wss.close();
});

await test("sends the keep-alive after the idle time", async () => {
  const { wss, url, received } = await server();
  const chat = await connect(url, { keepaliveMs: 50 });
  chat.sendMessage({ text: "then nothing" });
  await next<void>((resolve) => {
    const check = () => (received.some((r) => r === '{"action":"ping"}') ? resolve() : setTimeout(check, 10));
    check();
  }, "the keep-alive");
  chat.close();
  wss.close();
});

console.log(`the generated client: ${passed} tests passed`);
