// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Users import this package from JSR, that is from an https URL, not from
// file:. This test serves the package over HTTP on loopback and runs a
// program that imports it by URL and starts children with it.
import assert from "node:assert/strict";
import { BACKENDS } from "./_test_util.ts";

const root = new URL("./", import.meta.url);

function serveThisPackage(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname.replace(/^\/+/, "");
      if (path.includes("..")) return new Response("no", { status: 400 });
      try {
        const body = await Deno.readFile(new URL(path, root));
        return new Response(body, {
          headers: { "content-type": "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
}

Deno.test("the package works when imported by an http URL", async () => {
  const server = serveThisPackage();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const denoDir = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        // Modules served on a random port must not enter the lock file.
        "--no-lock",
        new URL("./testdata/remote_program.ts", root).pathname,
        base,
        ...BACKENDS,
      ],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, `${out}\n${err}`);
    for (const backend of BACKENDS) {
      assert.match(out, new RegExp(`${backend}: process, queue and lock ok`));
    }
    assert.match(out, /remote ok/);
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
  }
});
