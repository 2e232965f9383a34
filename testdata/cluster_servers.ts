// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Real NATS servers for the cluster tests: one node, or a 3-node JetStream
// cluster, on free loopback ports with a store in a temporary folder of
// their own; and node agents as `deno run` subprocesses. Everything started
// here is stopped by `stop()` / `[Symbol.asyncDispose]`, which the tests
// reach through `await using` even when they fail. Every server asks for a
// random token (and its routes for a random user and password), written in
// a config file only its owner reads, never on a command line; clients pass
// `token`, agents a `--token-file`.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

const SERVER = "nats-server";

/** Fails with a clear message when no `nats-server` can be run here. */
export async function requireServer(): Promise<void> {
  try {
    const { success } = await new Deno.Command(SERVER, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (success) return;
  } catch {
    // Not installed: said below.
  }
  throw new Error(
    "The cluster tests need a NATS server: nats-server is not installed or does not run; " +
      "install it (apt-get install -y nats-server) and run the tests again",
  );
}

/** A free TCP port on the loopback interface. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One `nats-server` process. */
export class Server {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly args: string[];
  #child: Deno.ChildProcess | undefined;
  #log = "";

  constructor(name: string, port: number, args: string[]) {
    this.name = name;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.args = args;
  }

  /** Its OS pid, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether it runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** What it printed (its log goes to stderr). */
  get log(): string {
    return this.#log;
  }

  /** Starts it (again, on the same store and ports). */
  start(): void {
    if (this.#child) throw new Error(`${this.name} runs already`);
    const child = new Deno.Command(SERVER, {
      args: this.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.#log += text;
      }
    };
    this.#drained = Promise.all([collect(child.stdout), collect(child.stderr)])
      .then(() => {});
  }
  #drained: Promise<void> = Promise.resolve();

  /** Ends it with `signal` and waits until it is gone. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      child.kill(signal);
    } catch {
      // Gone already.
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 5000);
    await child.status;
    clearTimeout(timer);
    await this.#drained;
    this.#child = undefined;
  }
}

/** A random secret, safe inside a quoted config string and a URL. */
function secret(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** Writes `text` to `path`, readable by its owner only. */
async function writePrivate(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** Waits until a client can reach JetStream through `servers`. */
async function waitReady(
  servers: string[],
  token: string,
  replicas: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: unknown;
  while (Date.now() < deadline) {
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({
        servers,
        token,
        timeout: 1000,
        reconnect: false,
      });
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      // A stream of `replicas` can be made: the meta group has a leader
      // and enough peers.
      const name = `READY_${crypto.randomUUID().replaceAll("-", "")}`;
      await jsm.streams.add({
        name,
        subjects: [`ready.${name}`],
        num_replicas: replicas,
      });
      await jsm.streams.delete(name);
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await nc?.close().catch(() => {});
    }
  }
  throw new Error(
    `The NATS servers did not become ready in 30 s: ${last}\n${what()}`,
  );
}

/** Servers started for one test, stopped with it. */
export class Servers implements AsyncDisposable {
  readonly nodes: Server[];
  readonly dirs: string[];
  /** The token every node asks its clients for. */
  readonly token: string;
  /** A file (mode 0600) holding {@linkcode Servers.token}, for agents. */
  readonly tokenFile: string;

  constructor(
    nodes: Server[],
    dirs: string[],
    token: string,
    tokenFile: string,
  ) {
    this.nodes = nodes;
    this.dirs = dirs;
    this.token = token;
    this.tokenFile = tokenFile;
  }

  /** The client URLs of all nodes. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Waits until JetStream answers, with `replicas` peers. */
  ready(): Promise<void> {
    return waitReady(
      this.urls,
      this.token,
      this.nodes.length,
      () => this.nodes.map((node) => `${node.name}:\n${node.log}`).join("\n"),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    for (const dir of this.dirs) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Starts one JetStream server with a store of its own, and waits for it. */
export async function startServer(): Promise<Servers> {
  await requireServer();
  const dir = await Deno.makeTempDir({ prefix: "mp_nats_" });
  const port = freePort();
  const token = secret();
  const config = `${dir}/server.conf`;
  await writePrivate(
    config,
    [
      `server_name: "n1"`,
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: ${JSON.stringify(`${dir}/store`)} }`,
      `authorization { token: "${token}" }`,
    ].join("\n"),
  );
  const tokenFile = `${dir}/token`;
  await writePrivate(tokenFile, token);
  const node = new Server("n1", port, ["-c", config]);
  const servers = new Servers([node], [dir], token, tokenFile);
  try {
    node.start();
    await servers.ready();
  } catch (error) {
    await servers[Symbol.asyncDispose]();
    throw error;
  }
  return servers;
}

/** Starts a 3-node JetStream cluster on loopback, and waits until it is healthy. */
export async function startCluster(size = 3): Promise<Servers> {
  await requireServer();
  const dirs: string[] = [];
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    dirs.push(await Deno.makeTempDir({ prefix: "mp_nats_" }));
    clientPorts.push(freePort());
    routePorts.push(freePort());
  }
  const token = secret();
  const routeUser = secret();
  const routePass = secret();
  const routes = routePorts.map((port) =>
    JSON.stringify(`nats://${routeUser}:${routePass}@127.0.0.1:${port}`)
  ).join(", ");
  const nodes: Server[] = [];
  for (const [i, port] of clientPorts.entries()) {
    const config = `${dirs[i]}/server.conf`;
    await writePrivate(
      config,
      [
        `server_name: "n${i + 1}"`,
        `listen: "127.0.0.1:${port}"`,
        `jetstream { store_dir: ${JSON.stringify(`${dirs[i]}/store`)} }`,
        `authorization { token: "${token}" }`,
        "cluster {",
        `  name: "mp"`,
        `  listen: "127.0.0.1:${routePorts[i]}"`,
        `  authorization { user: "${routeUser}", password: "${routePass}" }`,
        `  routes: [${routes}]`,
        "}",
      ].join("\n"),
    );
    nodes.push(new Server(`n${i + 1}`, port, ["-c", config]));
  }
  const tokenFile = `${dirs[0]}/token`;
  await writePrivate(tokenFile, token);
  const servers = new Servers(nodes, dirs, token, tokenFile);
  try {
    for (const node of nodes) node.start();
    await servers.ready();
  } catch (error) {
    await servers[Symbol.asyncDispose]();
    throw error;
  }
  return servers;
}

const AGENT = new URL("../_cluster/agent.ts", import.meta.url);

/** A node agent run as a `deno run` subprocess. */
export class Agent implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #output = "";
  #drained: Promise<void>;
  #listeners = new Set<() => void>();

  /**
   * Starts an agent of `namespace` on `servers`: given the {@linkcode Servers},
   * it passes their token file; given URLs only, no token.
   */
  constructor(
    servers: Servers | string[],
    namespace: string,
    processes = 2,
    extra: string[] = [],
  ) {
    const urls = Array.isArray(servers) ? servers : servers.urls;
    const auth = Array.isArray(servers)
      ? []
      : ["--token-file", servers.tokenFile];
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        AGENT.href,
        ...auth,
        "--connect",
        urls.join(","),
        "--namespace",
        namespace,
        "--processes",
        String(processes),
        ...extra,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.#output += text;
        for (const listener of this.#listeners) listener();
      }
    };
    this.#drained = Promise.all([
      collect(this.child.stdout),
      collect(this.child.stderr),
    ]).then(() => {});
  }

  /** What it printed so far. */
  get output(): string {
    return this.#output;
  }

  /** Waits until its output contains `text` (or it ended). */
  waitFor(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#output.includes(text)) {
          this.#listeners.delete(check);
          resolve();
        }
      };
      this.#listeners.add(check);
      check();
      this.child.status.then(() => {
        if (!this.#output.includes(text)) {
          this.#listeners.delete(check);
          reject(
            new Error(
              `The agent ended before printing "${text}":\n${this.#output}`,
            ),
          );
        }
      });
    });
  }

  /** Sends `signal`, ignoring a process gone already. */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Gone.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.child.status;
    await this.#drained;
  }
}

/** A namespace no other test uses. */
export function freshNamespace(): string {
  return `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}
