// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A module that never finishes loading: its top level spins. Only children
// import it (by `{ module, export }`), to show that a child still loading its
// target's module ends with its parent.
for (;;) {
  // Busy before any export exists.
}

export function neverReached(): void {}
