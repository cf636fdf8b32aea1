// ---- The client runtime (the same in every generated client) ---------------------------------

/** A request id: the client numbers its two-way calls; the server echoes the number. */
export type RequestId = string | number;

/** An error frame: a bad body, an unknown route, a failed or panicking handler, a timeout. */
export interface ErrorFrame {
  type: "error";
  /** A stable code: `bad_request`, `unknown_route`, `internal`, the app's own... */
  code: string;
  /** What went wrong, for people. */
  message: string;
  /** The id of the message it is about, when that message had one. */
  requestId?: RequestId;
}

/**
 * Why a call failed: an error frame about it (`code` is the frame's), no reply in time
 * (`timeout`), the connection dropped before the reply (`disconnected`), the client was closed
 * (`closed`), or the server refused the connection (`refused`).
 */
export class LiftError extends Error {
  /** The error frame's code, or `timeout`, `disconnected`, `closed`, `refused`. */
  readonly code: string;
  /** The error frame, when the server sent one. */
  readonly frame: ErrorFrame | undefined;

  constructor(code: string, message: string, frame?: ErrorFrame) {
    super(message);
    this.name = "LiftError";
    this.code = code;
    this.frame = frame;
  }
}

/** Options of one two-way call. */
export interface CallOptions {
  /** How long to wait for the reply before the call rejects with `timeout` (default: the
   * client's `timeoutMs`). */
  timeoutMs?: number;
}

/** How the client reconnects after the connection drops. */
export interface ReconnectOptions {
  /** The first delay's upper bound, doubled each attempt (default 500 ms). */
  minDelayMs?: number;
  /** The largest delay (default 30 s). */
  maxDelayMs?: number;
  /** Attempts before giving up (default: no limit). */
  maxAttempts?: number;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Query parameters of the connection URL (`$connect` reads them). */
  query?: Record<string, string | number | boolean | undefined>;
  /** WebSocket subprotocols (`["bearer", token]` carries a token from a browser). */
  protocols?: string | string[];
  /** How long a two-way call waits for its reply (default 30 s). */
  timeoutMs?: number;
  /** After how long without sending anything the client sends the app's keep-alive message
   * (default 5 minutes; API Gateway closes a connection after 10 idle minutes); `false`
   * never. Only for apps with a keep-alive route. */
  keepaliveMs?: number | false;
  /** Reconnect with jittered exponential backoff when the connection drops or API Gateway
   * ends it (default `true`); `false` never. */
  reconnect?: boolean | ReconnectOptions;
  /** The session to connect with, for apps with sessions (`Settings::session_ttl`): a new
   * random one by default, kept across reconnects so the server gives each new connection the
   * rooms of the last one; pass a stored one (`client.session`) to resume it after a page
   * reload; `false` for none. */
  session?: string | false;
  /** Where the client gets its token (a JWT) from, for apps with `JwtAuth`: called before each
   * connect (sent as the `token` query parameter, or `tokenParam`), and before the token
   * expires, to present a fresh one on the open connection (`lift:token`), so the connection
   * outlives its first token. */
  getToken?: () => string | Promise<string>;
  /** The query parameter the token goes in (default `token`). */
  tokenParam?: string;
  /** The WebSocket class to use (default `globalThis.WebSocket`; in Node before 22, pass
   * the `ws` package's or run with `--experimental-websocket`). */
  WebSocket?: new (url: string, protocols?: string | string[]) => object;
}

/** The client's own events, beside the pushed frames. */
export interface ClientEvents {
  /** The connection is open: the first time, and after each reconnect. */
  open: { reconnected: boolean };
  /** The connection closed; `willReconnect` says whether the client tries again. */
  close: { code: number; reason: string; willReconnect: boolean };
  /** The next reconnect attempt, in `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; code: number };
  /** An error frame no call is waiting for (a one-way message's, or the server's own). */
  error: ErrorFrame;
  /** After a reconnect, a room's history was replayed (apps with `Settings::history`):
   * `replayed` messages came again; `missed`: some were no longer kept (the client got every
   * message it could, in order). */
  replayed: { room: string; replayed: number; missed: boolean };
  /** A user's first connection joined a room, or their last one left it (apps with
   * `Settings::presence`; the room's present users are the app's to list). */
  presence: { type: "presence"; room: string; user: string; state: "joined" | "left" };
  /** Any other frame (text, or a `type` nobody listens to). */
  frame: unknown;
}

/** A new session id: 24 random URL-safe characters. */
function randomSessionId(): string {
  const bytes = new Uint8Array(24);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } })
    .crypto;
  if (crypto?.getRandomValues) {
    crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return Array.from(bytes, (byte) => alphabet.charAt(byte & 63)).join("");
}

interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** What a client took of one room's numbered broadcasts (apps with history). */
interface RoomSeen {
  /** Every number up to this one was taken. */
  contiguous: number;
  /** Numbers taken past `contiguous`. */
  past: Set<number>;
}

/** What a replay reports of a room. */
interface ReplayReport {
  since: number;
  last: number;
  replayed: number;
  missed: boolean;
  more: boolean;
}

interface Pending {
  route: string;
  loose: boolean;
  resolve: (value: unknown) => void;
  reject: (error: LiftError) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Listener = (event: never) => void;

/** The connection under a generated client: calls, events, keep-alive, reconnects. */
export class LiftSocket<F extends object> {
  private socket: SocketLike | null = null;
  private readonly url: string;
  private readonly options: ConnectOptions;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly pending = new Map<number, Pending>();
  private readonly pings: Array<() => void> = [];
  private readonly queue: string[] = [];
  private nextId = 1;
  private attempt = 0;
  private opened = false;
  private closed = false;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private renew: ReturnType<typeof setTimeout> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Numbered broadcasts taken, by room (apps with history). */
  private readonly seen = new Map<string, RoomSeen>();
  /** While a replay runs: the live numbered frames held back until it is done. */
  private held: Array<{ room: string; seq: number; frame: object }> | null = null;
  /** The session this client connects with (kept across reconnects), if the app has sessions. */
  readonly session: string | undefined;

  protected constructor(
    url: string,
    options: ConnectOptions,
    private readonly routeField: readonly string[],
    private readonly keepalive: string | null,
    sessions: boolean,
    private readonly replayRoute: string | null = null,
    private readonly tokenRoute: string | null = null,
  ) {
    this.session =
      sessions && options.session !== false ? options.session ?? randomSessionId() : undefined;
    const params: Record<string, string | number | boolean | undefined> = {
      ...(options.query ?? {}),
      session: this.session,
    };
    const query = Object.entries(params)
      .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join("&");
    this.url = query ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url;
    this.options = options;
  }

  /** Listens to a pushed frame (by its `type`) or a client event; returns what stops it. */
  on<K extends keyof (F & ClientEvents) & string>(
    type: K,
    listener: (event: (F & ClientEvents)[K]) => void,
  ): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as Listener);
    return () => void set.delete(listener as Listener);
  }

  /** Closes the connection for good: pending calls reject with `closed`, no reconnect. */
  close(code = 1000, reason = ""): void {
    this.closed = true;
    clearTimeout(this.idle);
    clearTimeout(this.renew);
    clearTimeout(this.retry);
    this.failPending("closed", "the client was closed");
    this.socket?.close(code, reason);
  }

  /** Sends a frame as it is, outside the routes (an object is sent as JSON). */
  sendRaw(frame: string | object): void {
    this.write(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Opens the connection; resolves once it is open, rejects with `refused` if it never is. */
  protected start(): Promise<void> {
    return new Promise((resolve, reject) => this.open(resolve, reject));
  }

  /** Sends a one-way route's message. */
  protected send(route: string | null, message: object | undefined): void {
    this.write(JSON.stringify(this.frame(route, message, undefined)));
  }

  /** Sends a two-way route's message and waits for the reply with its request id. `loose`:
   * the route declares no JSON reply, so a reply that is not an object answers the oldest
   * such call. */
  protected call<R>(
    route: string | null,
    message: object | undefined,
    options: CallOptions | undefined,
    loose: boolean,
  ): Promise<R> {
    if (this.closed) return Promise.reject(new LiftError("closed", "the client was closed"));
    const id = this.nextId++;
    const timeoutMs = options?.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LiftError("timeout", `no reply to \`${route ?? "$default"}\` within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        route: route ?? "$default",
        loose,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      this.write(JSON.stringify(this.frame(route, message, id)));
    });
  }

  /** Sends the keep-alive message and resolves when its `pong` comes back. */
  protected keepalivePing(options?: CallOptions): Promise<void> {
    const route = this.keepalive;
    if (route === null) return Promise.reject(new LiftError("no_keepalive", "no keep-alive route"));
    const timeoutMs = options?.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.pings.indexOf(done);
        if (at >= 0) this.pings.splice(at, 1);
        reject(new LiftError("timeout", `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.push(done);
      this.write(JSON.stringify(this.frame(route, undefined, undefined)));
    });
  }

  private frame(route: string | null, message: object | undefined, id: number | undefined): object {
    const frame: Record<string, unknown> = { ...(message ?? {}) };
    if (id !== undefined) frame.requestId = id;
    if (route === null) return frame; // `$default`: no route field
    // The route selection field, nested when the expression names a nested one.
    let target = frame;
    this.routeField.forEach((field, i) => {
      if (i === this.routeField.length - 1) {
        target[field] = route;
      } else {
        const inner = target[field];
        const copy: Record<string, unknown> =
          typeof inner === "object" && inner !== null ? { ...(inner as object) } : {};
        target[field] = copy;
        target = copy;
      }
    });
    return frame;
  }

  private write(data: string): void {
    if (this.closed) throw new LiftError("closed", "the client was closed");
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(data);
      this.armKeepalive();
    } else if (this.queue.length < 1000) {
      // Sent once the connection is open again.
      this.queue.push(data);
    } else {
      throw new LiftError("disconnected", "not connected, and 1000 messages are waiting");
    }
  }

  private armKeepalive(): void {
    clearTimeout(this.idle);
    const after = this.options.keepaliveMs ?? 300_000;
    if (this.keepalive === null || after === false || this.closed) return;
    this.idle = setTimeout(() => {
      this.keepalivePing().catch(() => undefined);
    }, after);
  }

  private open(resolve?: () => void, reject?: (error: LiftError) => void): void {
    const getToken = this.options.getToken;
    if (!getToken) return this.connectWith(this.url, resolve, reject);
    Promise.resolve()
      .then(getToken)
      .then(
        (token) => {
          const param = encodeURIComponent(this.options.tokenParam ?? "token");
          const url = `${this.url}${this.url.includes("?") ? "&" : "?"}${param}=${encodeURIComponent(token)}`;
          if (!this.closed) this.connectWith(url, resolve, reject, token);
        },
        (error: unknown) => {
          const failure = new LiftError("refused", `getToken failed: ${String(error)}`);
          if (reject) return reject(failure);
          this.emit("close", { code: 1006, reason: failure.message, willReconnect: false });
          this.closed = true;
        },
      );
  }

  /** The seconds since the epoch a JWT expires at (its `exp`), if it says. */
  private static expiry(token: string): number | undefined {
    try {
      const payload = token.split(".")[1] ?? "";
      const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
      const exp = (JSON.parse(json) as { exp?: unknown }).exp;
      return typeof exp === "number" ? exp : undefined;
    } catch {
      return undefined;
    }
  }

  /** Presents a fresh token on the open connection a minute before `token` expires (or at
   * four fifths of its life when that is sooner), then the next one. */
  private scheduleRenewal(socket: SocketLike, token: string): void {
    clearTimeout(this.renew);
    const getToken = this.options.getToken;
    const exp = LiftSocket.expiry(token);
    if (this.tokenRoute === null || !getToken || exp === undefined) return;
    const left = exp * 1000 - Date.now();
    const delay = Math.max(1000, Math.min(left - 60_000, left * 0.8));
    this.renew = setTimeout(() => {
      if (this.socket !== socket || this.closed) return;
      Promise.resolve()
        .then(getToken)
        .then((fresh) =>
          this.call(this.tokenRoute, { token: fresh }, undefined, false).then(() =>
            this.scheduleRenewal(socket, fresh),
          ),
        )
        .catch((error: unknown) => {
          // An app that checks no tokens has no such route: nothing to renew.
          if (error instanceof LiftError && error.code === "unknown_route") return;
          // Tried again soon; if the token expires first, the server closes the connection
          // and the reconnect gets a fresh one.
          if (this.socket === socket && !this.closed) {
            this.renew = setTimeout(() => this.scheduleRenewal(socket, token), 5_000);
          }
        });
    }, delay);
  }

  private connectWith(
    url: string,
    resolve?: () => void,
    reject?: (error: LiftError) => void,
    token?: string,
  ): void {
    const WebSocketClass =
      this.options.WebSocket ??
      (globalThis as unknown as { WebSocket?: ConnectOptions["WebSocket"] }).WebSocket;
    if (!WebSocketClass) {
      const error = new LiftError(
        "no_websocket",
        "no WebSocket class: pass `WebSocket` in the options (Node before 22: the `ws` package)",
      );
      if (reject) return reject(error);
      throw error;
    }
    const socket = new WebSocketClass(url, this.options.protocols) as SocketLike;
    this.socket = socket;
    let isOpen = false;
    socket.onopen = () => {
      isOpen = true;
      const reconnected = this.opened;
      this.opened = true;
      this.attempt = 0;
      for (const data of this.queue.splice(0)) socket.send(data);
      this.armKeepalive();
      resolve?.();
      this.emit("open", { reconnected });
      if (reconnected) this.replay(socket);
      if (token !== undefined) this.scheduleRenewal(socket, token);
    };
    socket.onmessage = (event) => this.receive(event.data);
    let ended = false;
    // A handshake that fails is an error and then a close in browsers; some platforms (Node
    // 20's WebSocket) never send the close, so an error before the open ends it here.
    socket.onerror = () => {
      if (!isOpen) socket.onclose?.({ code: 1006, reason: "" });
    };
    socket.onclose = (event) => {
      if (this.socket !== socket || ended) return;
      ended = true;
      clearTimeout(this.idle);
      clearTimeout(this.renew);
      this.failPending("disconnected", `the connection closed (${event.code}) before the reply`);
      if (!isOpen && !this.opened) {
        this.closed = true;
        reject?.(new LiftError("refused", `the server refused the connection (${event.code})`));
        return;
      }
      const policy = this.options.reconnect ?? true;
      const limits: ReconnectOptions = typeof policy === "object" ? policy : {};
      const willReconnect =
        !this.closed && policy !== false && this.attempt < (limits.maxAttempts ?? Infinity);
      this.emit("close", { code: event.code, reason: event.reason, willReconnect });
      if (!willReconnect) {
        this.closed = true;
        return;
      }
      this.attempt += 1;
      const ceiling = Math.min(
        limits.maxDelayMs ?? 30_000,
        (limits.minDelayMs ?? 500) * 2 ** (this.attempt - 1),
      );
      // "Equal jitter": half the ceiling, plus up to the other half at random.
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.emit("reconnecting", { attempt: this.attempt, delayMs, code: event.code });
      this.retry = setTimeout(() => {
        if (!this.closed) this.open();
      }, delayMs);
    };
  }

  private receive(data: unknown): void {
    let frame: unknown = data;
    if (typeof data === "string") {
      try {
        frame = JSON.parse(data);
      } catch {
        frame = data;
      }
    }
    if (typeof frame === "object" && frame !== null && !Array.isArray(frame)) {
      const object = frame as { requestId?: unknown; type?: unknown; room?: unknown; seq?: unknown };
      if (this.replayRoute !== null && typeof object.seq === "number" && typeof object.room === "string") {
        // A numbered room broadcast: each number once, and none before a replay is done.
        if (this.taken(object.room, object.seq)) return;
        if (this.held !== null) {
          this.held.push({ room: object.room, seq: object.seq, frame });
          return;
        }
        this.take(object.room, object.seq);
      }
      const call = typeof object.requestId === "number" ? this.pending.get(object.requestId) : undefined;
      if (call !== undefined && typeof object.requestId === "number") {
        this.pending.delete(object.requestId);
        clearTimeout(call.timer);
        if (object.type === "error") {
          const error = frame as ErrorFrame;
          call.reject(new LiftError(error.code, error.message, error));
        } else {
          call.resolve(frame);
        }
        return;
      }
      if (object.type === "pong" && this.pings.length > 0) {
        this.pings.shift()?.();
        return;
      }
      if (object.type === "pong") return;
      if (object.type === "error") {
        this.emit("error", frame);
        return;
      }
      if (typeof object.type === "string" && this.listeners.get(object.type)?.size) {
        this.emit(object.type, frame);
        return;
      }
    } else {
      // A reply that cannot carry a request id answers the oldest call that expects one.
      for (const [id, call] of this.pending) {
        if (!call.loose) continue;
        this.pending.delete(id);
        clearTimeout(call.timer);
        call.resolve(frame);
        return;
      }
    }
    this.emit("frame", frame);
  }

  /** Hands a frame to its listeners: by its `type`, else as a `frame` event. */
  private dispatch(frame: object): void {
    const type = (frame as { type?: unknown }).type;
    if (typeof type === "string" && this.listeners.get(type)?.size) {
      this.emit(type, frame);
      return;
    }
    this.emit("frame", frame);
  }

  /** Whether this room's number was taken already. */
  private taken(room: string, seq: number): boolean {
    const seen = this.seen.get(room);
    return seen !== undefined && (seq <= seen.contiguous || seen.past.has(seq));
  }

  /** Notes a room's number as taken. */
  private take(room: string, seq: number): void {
    let seen = this.seen.get(room);
    if (!seen) {
      // The first number of a room starts it: what came before is not this client's.
      this.seen.set(room, (seen = { contiguous: seq, past: new Set() }));
      return;
    }
    seen.past.add(seq);
    while (seen.past.delete(seen.contiguous + 1)) seen.contiguous += 1;
    if (seen.past.size > 1000) {
      // A number that never comes (a broadcast the server could not keep): skip past it.
      seen.contiguous = Math.min(...seen.past) - 1;
      while (seen.past.delete(seen.contiguous + 1)) seen.contiguous += 1;
    }
  }

  /** After a reconnect: asks the app for the numbered broadcasts of each room since the last
   * one taken, holding live ones back until they are in; then takes the held ones in order. */
  private replay(socket: SocketLike, attempt = 0): void {
    if (this.replayRoute === null || this.seen.size === 0 || this.socket !== socket) return;
    const since: Record<string, number> = {};
    for (const [room, seen] of this.seen) since[room] = seen.contiguous;
    this.held ??= [];
    this.call<{ rooms?: Record<string, ReplayReport> }>(this.replayRoute, { since }, undefined, false).then(
      (answer) => {
        if (this.socket !== socket) return;
        let more = false;
        for (const [room, report] of Object.entries(answer.rooms ?? {})) {
          more ||= report.more;
          this.emit("replayed", { room, replayed: report.replayed, missed: report.missed });
        }
        if (more) return this.replay(socket);
        this.release();
      },
      (error: LiftError) => {
        if (this.socket !== socket || this.closed || error.code === "disconnected") return;
        if (attempt < 3) {
          setTimeout(() => this.replay(socket, attempt + 1), 500 * (attempt + 1));
        } else {
          // The app does not replay: live frames go on as they come.
          this.release();
        }
      },
    );
  }

  /** Takes the frames held during a replay, in order of their numbers. */
  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    held.sort((a, b) => (a.room === b.room ? a.seq - b.seq : a.room < b.room ? -1 : 1));
    for (const { room, seq, frame } of held) {
      if (this.taken(room, seq)) continue;
      this.take(room, seq);
      this.dispatch(frame);
    }
  }

  private failPending(code: string, message: string): void {
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(new LiftError(code, `${message} (\`${call.route}\`)`));
    }
    this.pending.clear();
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        (listener as (event: unknown) => void)(event);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
