// The article's Pipe example: a child sends a list over a pipe and closes
// its end; the parent prints what it received. Python prints
// ['hi!! I am Python']; Deno's console.log of a one-element array prints
// [ "hi!! I am Python" ].
import { type Connection, Pipe, Process } from "../mod.ts";

export function myfunction(conn: Connection<string[]>) {
  conn.send(["hi!! I am Python"]);
  conn.close();
}

if (import.meta.main) {
  const [parentConn, childConn] = Pipe<string[]>();
  const p = new Process({ target: myfunction, args: [childConn] });
  p.start();
  console.log(await parentConn.recv());
  await p.join();
}
