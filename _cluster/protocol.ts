// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a program and its agents say to each other, and where.
import type { ErrorData } from "../_error.ts";
import type { Link } from "./nats.ts";

/**
 * How often an agent says it lives; its heartbeat key ages out after three
 * of these, and the children it ran are then given up for lost.
 */
export const AGENT_HEARTBEAT_MS = 1000;

/** A function as an agent imports it. */
export interface FunctionRef {
  module: string;
  name: string;
}

/** One chunk of a pool call: the message of the tasks stream. */
export interface TaskMessage {
  /** The call's id. */
  job: string;
  /** The chunk's place in the call. */
  index: number;
  fn: FunctionRef;
  /** Each item is one call's argument, or its arguments when `star`. */
  items: unknown[];
  star: boolean;
  /** Where the result goes. */
  reply: string;
  /** How many deliveries it may take (its agent died in each before). */
  attempts: number;
}

/** A chunk's result. */
export interface ResultMessage {
  job: string;
  index: number;
  values?: unknown[];
  error?: ErrorData;
}

/** A remote process start: the message of the starts stream. */
export interface StartMessage {
  id: string;
  name: string;
  fn: FunctionRef;
  args: unknown[];
}

/** A remote process as its record in the processes bucket. */
export interface ProcessRecord {
  state: "running" | "ended";
  agent: string;
  pid?: number;
  exitCode?: number;
  error?: ErrorData;
}

/** The names of the streams and subjects of a namespace. */
export function names(link: Link) {
  return {
    tasks: link.streamName("TASKS"),
    taskSubject: link.subject("tasks"),
    results: link.streamName("RESULTS"),
    resultSubject: (client: string) => link.subject("results", client),
    starts: link.streamName("STARTS"),
    startSubject: link.subject("starts"),
    cancelSubject: link.subject("cancel"),
    signalSubject: (id: string) => link.subject("signal", id),
    consumer: "agents",
  };
}

/** Makes the pool's streams: tasks (a work queue) and results. */
export async function ensurePoolStreams(link: Link): Promise<void> {
  const n = names(link);
  await Promise.all([
    link.ensureStream(n.tasks, [n.taskSubject], {
      workQueue: true,
      consumer: n.consumer,
    }),
    link.ensureStream(n.results, [link.subject("results", ">")], {
      maxAgeMs: 3_600_000,
    }),
  ]);
}

/** Makes the stream of process starts. */
export function ensureStartStream(link: Link): Promise<void> {
  const n = names(link);
  return link.ensureStream(n.starts, [n.startSubject], {
    workQueue: true,
    consumer: n.consumer,
  });
}
