// Run by remote_test.ts as `deno run -A remote_program.ts BASE_URL`: imports
// the library over HTTP, as a JSR import would be, and uses it across
// children. Prints one line per check, then "remote ok".
const base = Deno.args[0];
const mp = await import(`${base}/mod.ts`) as typeof import("../mod.ts");

// A Value rather than raw shared memory, so that the check holds on every
// backend (a subprocess child cannot share a SharedArrayBuffer).
export function writeValue(cell: { value: number }, value: number): void {
  cell.value = value;
}

if (import.meta.main) {
  for (const backend of Deno.args.slice(1)) {
    const cell = new mp.Value("i32", 0);
    const p = new mp.Process({ target: writeValue, args: [cell, 7], backend });
    p.start();
    const code = await p.join();
    if (code !== 0 || cell.value !== 7) {
      throw new Error(`${backend}: exit code ${code}, value ${cell.value}`);
    }
    console.log(`${backend}: process ok`);
  }
  console.log("remote ok");
}
