// Run by remote_test.ts as `deno run -A remote_program.ts BASE_URL`: imports
// the library over HTTP, as a JSR import would be, and uses it across
// children. Prints one line per check, then "remote ok".
const base = Deno.args[0];
const mp = await import(`${base}/mod.ts`) as typeof import("../mod.ts");

export function writeCell(cells: Int32Array, value: number): void {
  Atomics.store(cells, 0, value);
}

if (import.meta.main) {
  for (const backend of Deno.args.slice(1)) {
    const cells = new Int32Array(new SharedArrayBuffer(4));
    const p = new mp.Process({ target: writeCell, args: [cells, 7], backend });
    p.start();
    const code = await p.join();
    if (code !== 0 || cells[0] !== 7) {
      throw new Error(`${backend}: exit code ${code}, cell ${cells[0]}`);
    }
    console.log(`${backend}: process ok`);
  }
  console.log("remote ok");
}
