// The shape the generated chat client promises (issue 24's acceptance test), compiled with
// `tsc --strict`; tests/client/chat.test.ts runs the same calls against the emulator.
import { connect } from "./generated/chat";

export async function usage(): Promise<void> {
  const chat = await connect("ws://127.0.0.1:3001", { query: { name: "ana" } });
  chat.sendMessage({ text: "hi" }); // one-way route: typed argument
  const me = await chat.whoami(); // two-way route: a Promise of the typed reply
  const r = await chat.join({ room: "r1" }); // matched by requestId, so calls may overlap
  chat.on("message", (m) => console.log(m.from, m.text)); // pushed frames, typed by "type"
  chat.on("error", (e) => console.log(e.code, e.message));
  console.log(me.name, me.connectionId, r.room);
  chat.close();
}
