// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Work a child does as it ends, whichever way it ends (its target returned
// or threw, or it called exit), before its parent hears of the end: a
// `Connection` marks itself closed, so that its peer sees EOF at once, even
// when the peer's process is blocked in a `*Sync` call and cannot run the
// parent's end-of-child handling.

const hooks = new Set<() => void>();

/**
 * Registers `hook` to run when this child ends.
 *
 * @returns A function that unregisters it.
 */
export function atChildExit(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Runs every hook once; one hook's error does not stop the others. */
export function runChildExitHooks(): void {
  const all = [...hooks];
  hooks.clear();
  for (const hook of all) {
    try {
      hook();
    } catch {
      // The process is ending; a hook that fails must not hide its end.
    }
  }
}
