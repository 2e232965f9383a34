// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Shared by the tests: which backends to run every cross-process test on.
import type { Backend } from "./_wire.ts";

/**
 * The backends that each cross-process test runs on. A test file loops over
 * these so that the same assertions hold on every backend.
 */
export const BACKENDS: readonly Backend[] = ["worker"];
