// Runs every example in this folder, on every backend an example supports,
// and fails if one fails or prints something other than what it should.
//
//   deno task examples
//
// Each example names what it must print in examples/expected/<name>.txt:
// one line per line of output; lines may come in any order only where the
// example's processes really run in parallel (files marked "# any order").
const here = new URL("./", import.meta.url);

interface Outcome {
  name: string;
  backend: string;
  ok: boolean;
  detail: string;
}

async function expected(
  name: string,
): Promise<{ lines: string[]; anyOrder: boolean } | undefined> {
  try {
    const text = await Deno.readTextFile(new URL(`expected/${name}.txt`, here));
    const all = text.split("\n").filter((line) => line !== "");
    const anyOrder = all[0] === "# any order";
    return { lines: anyOrder ? all.slice(1) : all, anyOrder };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function sameOutput(got: string[], want: string[], anyOrder: boolean): boolean {
  if (got.length !== want.length) return false;
  const a = anyOrder ? [...got].sort() : got;
  const b = anyOrder ? [...want].sort() : want;
  return a.every((line, i) => line === b[i]);
}

async function run(name: string, backend: string): Promise<Outcome> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `--preload=${new URL("_backend.ts", here).pathname}`,
      new URL(`${name}.ts`, here).pathname,
    ],
    env: { MP_BACKEND: backend, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  Deno.stdout.writeSync(stdout);
  if (code !== 0) {
    return { name, backend, ok: false, detail: `exit code ${code}\n${err}` };
  }
  const want = await expected(name);
  if (!want) return { name, backend, ok: true, detail: "ran" };
  const got = out.split("\n").filter((line) =>
    line !== "" && !line.startsWith("\r")
  );
  const ok = sameOutput(got, want.lines, want.anyOrder);
  return {
    name,
    backend,
    ok,
    detail: ok
      ? "output as expected"
      : `expected:\n${want.lines.join("\n")}\ngot:\n${got.join("\n")}`,
  };
}

// Every example runs on each backend; MP_BACKENDS=worker picks one.
const backends = (Deno.env.get("MP_BACKENDS") ?? "worker,subprocess").split(
  ",",
);
const names = [...Deno.readDirSync(here)]
  .filter((e) =>
    e.isFile && e.name.endsWith(".ts") && e.name !== "run_all.ts" &&
    !e.name.startsWith("_")
  )
  .map((e) => e.name.slice(0, -3))
  .sort();
const outcomes: Outcome[] = [];
for (const name of names) {
  for (const backend of backends) {
    console.log(`\n=== ${name} (${backend})`);
    const outcome = await run(name, backend);
    outcomes.push(outcome);
    console.log(
      outcome.ok
        ? `--- ok: ${outcome.detail}`
        : `--- FAILED: ${outcome.detail}`,
    );
  }
}
const failed = outcomes.filter((o) => !o.ok);
console.log(
  `\n${
    outcomes.length - failed.length
  } examples passed, ${failed.length} failed`,
);
if (failed.length) Deno.exit(1);
