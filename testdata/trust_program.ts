// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Run by trust_test.ts with deny flags and partial grants: probes what this
// process may do, starts a subprocess child that probes the same, and
// prints both (`parent {...}`, `child {...}`), then `exit N`, or `refused
// ...` when the child could not be started.
//
//   deno run <flags> trust_program.ts <dir> [<permissions as JSON>]
import { Process } from "../process.ts";

/** What this process may do, each as "ok" or the error's name. */
export function probe(dir: string): Record<string, string> {
  const attempt = (action: () => unknown) => {
    try {
      action();
      return "ok";
    } catch (error) {
      return (error as Error).name;
    }
  };
  const query = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state;
  return {
    readSecret: attempt(() => Deno.readTextFileSync(`${dir}/secret.txt`)),
    readOpen: attempt(() => Deno.readTextFileSync(`${dir}/open.txt`)),
    writeOut: attempt(() => Deno.writeTextFileSync(`${dir}/out.txt`, "x")),
    writeOther: attempt(() => Deno.writeTextFileSync(`${dir}/other.txt`, "x")),
    envHome: attempt(() => Deno.env.get("HOME")),
    envOwn: attempt(() => Deno.env.get("MP_TRUST")),
    sysHostname: attempt(() => Deno.hostname()),
    sysLoadavg: attempt(() => Deno.loadavg()),
    runTrue: attempt(() => new Deno.Command("true").outputSync()),
    netDenied: query({ name: "net", host: "127.0.0.1:9" }),
    netOther: query({ name: "net", host: "127.0.0.1:10" }),
    ffi: query({ name: "ffi", path: `${dir}/x.so` }),
    import: query({ name: "import", host: "example.com" }),
  };
}

/** In the child: prints its probe. */
export function probeAndPrint(dir: string): void {
  console.log(`child ${JSON.stringify(probe(dir))}`);
}

if (import.meta.main) {
  const [dir, permissions] = Deno.args;
  console.log(`parent ${JSON.stringify(probe(dir))}`);
  try {
    const p = new Process({
      target: probeAndPrint,
      args: [dir],
      backend: "subprocess",
      ...(permissions ? { permissions: JSON.parse(permissions) } : {}),
    });
    p.start();
    console.log(`exit ${await p.join()}`);
  } catch (error) {
    console.log(
      `refused ${(error as Error).name}: ${(error as Error).message}`,
    );
  }
}
