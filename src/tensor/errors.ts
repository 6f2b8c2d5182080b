/**
 * Typed errors. Every public function validates its input and throws one of these, naming the
 * function (`op`), the argument, what was expected and what came.
 *
 * ```ts
 * try { matmul(a, b) } catch (e) { if (e instanceof ShapeError) console.log(e.op, e.arg, e.expected, e.actual) }
 * ```
 */

/** Base class of every error qkv throws on bad input. */
export class QkvError extends Error {
  constructor(
    readonly op: string,
    readonly arg: string,
    readonly expected: string,
    readonly actual: string,
    message?: string,
  ) {
    super(message ?? `${op}: ${arg} expected ${expected}, got ${actual}`);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank or shape. */
export class ShapeError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "ShapeError";
}

/** A tensor has the wrong dtype. */
export class DTypeError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "DTypeError";
}

/** An option or scalar argument is out of range or of the wrong kind. */
export class ValueError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "ValueError";
}

/** A tensor's data was given back to the buffer pool with its graph (freeGraph, fit's `freeGraph`). */
export class FreedTensorError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "FreedTensorError";
  /** `what` says how the tensor's memory went back (default: freeGraph's intermediates). */
  constructor(tensor: string, what = "an intermediate of a training step whose graph was freed after the update (clone() it before freeGraph to keep it)") {
    super("Tensor.data", "tensor", "a tensor whose data is still held", `${tensor}, ${what}`);
  }
}

/**
 * A synchronous read (`data`, `item()`, `toArray()`, or an op whose loop runs on the host) of a
 * tensor whose data lives on a device and has not been read back: `await t.read()` first.
 */
export class DeviceSyncError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "DeviceSyncError";
  constructor(op: string, tensor: string, device: string) {
    super(op, "tensor", "a tensor whose data is on the host (await t.read() first)",
      `${tensor}, whose data is on the ${device} device and has not been read back`);
  }
}

/** An op (or a branch of one) that has no kernel on the device a tensor lives on yet. */
export class DeviceOpError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "DeviceOpError";
  constructor(op: string, arg: string, device: string, detail = "") {
    super(op, arg, "a host tensor (this op runs on the host only for now)",
      `a tensor on the ${device} device${detail ? ` (${detail})` : ""}`);
  }
}

/** A state dict does not match a module: missing, unexpected or wrongly shaped entries. */
export class StateDictError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "StateDictError";
  constructor(
    op: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: { name: string; expected: number[]; actual: number[] }[],
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys: ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(", ")}`);
    for (const m of mismatched) parts.push(`${m.name} expected [${m.expected.join(", ")}], got [${m.actual.join(", ")}]`);
    super(op, "stateDict", "matching names and shapes", parts.join("; "), `${op}: state dict mismatch: ${parts.join("; ")}`);
  }
}

/** A file (checkpoint, dataset) is malformed or hostile. */
export class FormatError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "FormatError";
}

/** Formats a shape as `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** A model has parts an exporter cannot write (e.g. an op with no ONNX form): every one is listed. */
export class ExportError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "ExportError";
  constructor(op: string, readonly problems: string[]) {
    super(op, "model", "parts with an ONNX form", problems.join("; "), `${op}: cannot export: ${problems.join("; ")}`);
  }
}
