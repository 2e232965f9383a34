// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one way an error crosses a process boundary: its class name, message,
// stack and cause travel as plain data, and the parent rebuilds an error of
// the same class where it knows the class (built-ins and ours).
import {
  AuthenticationError,
  BrokenBarrierError,
  BufferTooShort,
  Empty,
  EOFError,
  Full,
  ProcessError,
  TimeoutError,
} from "./errors.ts";

/** An error as plain, structured-cloneable data. */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  /** Extra own properties (for example `code`) that clone. */
  props?: Record<string, unknown>;
}

type ErrorClass = new (message?: string, options?: ErrorOptions) => Error;

const KNOWN: Record<string, ErrorClass> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  ProcessError,
  TimeoutError,
  EOFError,
  Empty,
  Full,
  BrokenBarrierError,
  BufferTooShort,
  AuthenticationError,
};

/** Turns anything thrown into plain data (a non-error becomes an `Error`). */
export function errorToData(error: unknown, depth = 0): ErrorData {
  if (!(error instanceof Error)) {
    return { name: "Error", message: `Uncaught ${describe(error)}` };
  }
  const data: ErrorData = {
    name: error.name || error.constructor?.name || "Error",
    message: error.message,
    stack: error.stack,
  };
  if (error.cause !== undefined) {
    data.cause = error.cause instanceof Error && depth < 8
      ? errorToData(error.cause, depth + 1)
      : cloneable(error.cause);
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === "name" || key === "message" || key === "cause") continue;
    const value = cloneable((error as unknown as Record<string, unknown>)[key]);
    if (value !== undefined) props[key] = value;
  }
  if (Object.keys(props).length) data.props = props;
  return data;
}

/** Rebuilds an error from {@linkcode errorToData}'s data. */
export function dataToError(data: ErrorData): Error {
  const Class = KNOWN[data.name] ?? Error;
  const cause = isErrorData(data.cause) ? dataToError(data.cause) : data.cause;
  const error = new Class(
    data.message,
    cause === undefined ? undefined : { cause },
  );
  if (error.name !== data.name) {
    Object.defineProperty(error, "name", {
      value: data.name,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  }
  if (data.stack) error.stack = data.stack;
  if (data.props) Object.assign(error, data.props);
  return error;
}

/**
 * The message of `error`, to quote inside another message: without the
 * closing period it often has ("... could not be cloned."), so that the
 * quote does not end a sentence in the middle.
 */
export function quoteMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\.+$/, "");
}

function isErrorData(value: unknown): value is ErrorData {
  return typeof value === "object" && value !== null &&
    typeof (value as ErrorData).name === "string" &&
    typeof (value as ErrorData).message === "string";
}

function cloneable(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return undefined;
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === "string" ? value : Deno.inspect(value);
  } catch {
    return String(value);
  }
}
