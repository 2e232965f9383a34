// A trivial target in a module that imports the whole library (mod.ts), as
// a program that uses several primitives does: its child loads all of it.
import "../mod.ts";

export function noop(): void {}
