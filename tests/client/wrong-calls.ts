// Wrong calls of the generated chat client: each line after `@ts-expect-error` must be a
// compile error under `tsc --strict` (tsc fails if one of them compiles: "Unused
// '@ts-expect-error' directive"); usage.ts holds the right calls, which must compile.
import { connect, LiftError } from "./generated/chat";

export async function wrongCalls(): Promise<void> {
  const chat = await connect("ws://127.0.0.1:3001", { query: { name: "ana" } });

  // @ts-expect-error a misspelt field: `txt` for `text`
  chat.sendMessage({ txt: "hi" });
  // @ts-expect-error a field of the wrong type
  chat.sendMessage({ text: 42 });
  // @ts-expect-error a missing required field
  chat.sendMessage({ room: "r1" });
  // @ts-expect-error a missing argument
  chat.join();
  // @ts-expect-error a field the message does not have
  chat.join({ room: "r1", roomId: 7 });
  // @ts-expect-error a route the app does not have
  chat.sendMesage({ text: "hi" });
  // @ts-expect-error a one-way route returns nothing to await for
  const nothing: string = chat.sendMessage({ text: "hi" });
  const me = await chat.whoami();
  // @ts-expect-error a field the reply does not have
  console.log(me.nickname);
  const joined = await chat.join({ room: "r1" });
  // @ts-expect-error the reply's room is a string
  const room: number = joined.room;
  // @ts-expect-error a pushed frame type the app does not declare
  chat.on("mesage", () => undefined);
  chat.on("message", (m) => {
    // @ts-expect-error a field the pushed frame does not have
    console.log(m.body);
  });
  chat.on("error", (e) => {
    // @ts-expect-error an error frame's code is a string
    const code: number = e.code;
    console.log(code);
  });
  // @ts-expect-error a call option that does not exist
  await chat.whoami(undefined, { timeout: 5 });
  // @ts-expect-error a connect option of the wrong type
  await connect("ws://127.0.0.1:3001", { query: { name: ["ana"] } });
  try {
    await chat.join({ room: "r1" });
  } catch (error) {
    // @ts-expect-error a caught value is `unknown` until narrowed
    console.log(error.code);
    if (error instanceof LiftError) console.log(error.code, error.frame?.requestId);
  }
  console.log(nothing, room);
}
