// A module that imports a target from another module without exporting it:
// the child still finds the target in the module it was imported from.
import { Process } from "../process.ts";
import { type Cells, writeCell } from "./process_targets.ts";

export function startImported(cells: Cells): Process {
  const p = new Process({ target: writeCell, args: [cells, 3, 11] });
  p.start();
  return p;
}
