// Preloaded by run_all.ts: runs an example on the backend named by
// MP_BACKEND, as Python's set_start_method() would, without changing it.
import { setStartMethod } from "../mod.ts";

const backend = Deno.env.get("MP_BACKEND");
if (backend === "worker" || backend === "subprocess") setStartMethod(backend);
