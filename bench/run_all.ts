// Runs every benchmark in this folder, one after another, each in its own
// process (so they do not disturb each other):  deno task bench
const here = new URL("./", import.meta.url);
const names = [...Deno.readDirSync(here)]
  .filter((e) => e.isFile && e.name.endsWith("_bench.ts"))
  .map((e) => e.name)
  .sort();
let failed = 0;
for (const name of names) {
  console.log(`\n# ${name}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(name, here).pathname],
  }).spawn().status;
  if (code !== 0) {
    failed++;
    console.log(`${name} failed with exit code ${code}`);
  }
}
if (failed) Deno.exit(1);
