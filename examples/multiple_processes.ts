// The article's third example: two processes doing different work at once.
import { Process } from "../mod.ts";

export function cube(numbers: number[]) {
  for (const x of numbers) console.log(`${x} cube is ${x ** 3}`);
}

export function evenno(numbers: number[]) {
  for (const x of numbers) {
    if (x % 2 === 0) console.log(`${x} is an even number`);
  }
}

if (import.meta.main) {
  const myNumbers = [3, 4, 5, 6, 7, 8];
  const process1 = new Process({ target: cube, args: [myNumbers] });
  const process2 = new Process({ target: evenno, args: [myNumbers] });
  process1.start();
  process2.start();
  await process1.join();
  await process2.join();
  console.log("Done");
}
