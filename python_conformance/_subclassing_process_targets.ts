// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _UpperCaser, for subclassing_process_test.ts: a child rebuilds
// it from its module, so it is exported.
import { type Connection, Pipe } from "../pipe.ts";
import { type Backend, Process } from "../process.ts";

export class UpperCaser extends Process {
  childConn: Connection<string | null>;
  parentConn: Connection<string | null>;

  constructor(backend?: Backend) {
    super({ backend });
    [this.childConn, this.parentConn] = Pipe<string | null>();
  }

  override async run(): Promise<void> {
    this.parentConn.close();
    for (
      let s = await this.childConn.recv();
      s !== null;
      s = await this.childConn.recv()
    ) {
      this.childConn.send(s.toUpperCase());
    }
    this.childConn.close();
  }

  async submit(s: string): Promise<string | null> {
    if (typeof s !== "string") throw new TypeError("submit() takes a string");
    this.parentConn.send(s);
    return await this.parentConn.recv();
  }

  stop(): void {
    this.parentConn.send(null);
    this.parentConn.close();
    this.childConn.close();
  }
}
