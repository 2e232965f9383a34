// The article's Lock example: four processes print in turn, one at a time.
import { Lock, Process } from "../mod.ts";

export async function displayName(l: Lock, name: string) {
  await l.acquire();
  console.log("Hi", name);
  l.release();
}

if (import.meta.main) {
  const myLock = new Lock();
  const names = ["Aadrika", "Adwaita", "Sakya", "Sanj"];
  const processes: Process[] = [];
  for (const name of names) {
    const p = new Process({ target: displayName, args: [myLock, name] });
    processes.push(p);
    p.start();
  }
  for (const p of processes) await p.join();
}
