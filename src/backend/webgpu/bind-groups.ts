/// <reference types="@webgpu/types" />
/**
 * Bind groups made once and reused. A kernel's bindings (wgsl.ts `header`) are its parameters
 * (binding 0, a uniform), its arrays (storage), and its shape table (`tab`, read-only storage); the
 * parameters and the table live in the recorder's arena at a slot that changes with every
 * dispatch, the arrays in pool buffers that a training loop gets back step after step. With a
 * layout that gives the two arena bindings dynamic offsets (`explicitLayout`, derived from the
 * shader's own declarations), a bind group depends only on the pipeline and the arrays' windows,
 * so `BindGroupCache` makes it once and the dispatch passes the slots as offsets: creating a bind
 * group costs more than the dispatch itself (about 16 µs through dawn.node against 4 µs for
 * setPipeline, setBindGroup and dispatchWorkgroups), and a step records hundreds of dispatches.
 *
 * ```ts
 * const ex = explicitLayout(device, code);                  // null: no bindings found, "auto" it is
 * const pipeline = device.createComputePipeline({ layout: ex!.pipeline, compute: { module, entryPoint: "main" } });
 * registerLayout(pipeline, ex!.group);
 * const group = cache.get(pipeline, arena, entries, paramBytes, tableBytes); // then setBindGroup(0, group, [paramAt, tableAt])
 * ```
 */

/** The explicit layout of a shader's group 0: the bind group's and the pipeline's. */
export interface ExplicitLayout {
  group: GPUBindGroupLayout;
  pipeline: GPUPipelineLayout;
}

// `@group(0) @binding(N) var<uniform | storage[, read | read_write]> name` as header() writes them
const BINDING = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read_write|read)\s*)?>\s*(\w+)/g;

/**
 * The layout of group 0 as `code` declares it, binding 0 (the parameters) and the shape table
 * `tab` with dynamic offsets; null when the code declares no binding in group 0, or binding 0 is
 * not the uniform parameters (the pipeline then keeps the "auto" layout and its bind groups are
 * made per dispatch).
 */
export function explicitLayout(device: GPUDevice, code: string): ExplicitLayout | null {
  const entries: GPUBindGroupLayoutEntry[] = [];
  for (const m of code.matchAll(BINDING)) {
    const binding = Number(m[1]), space = m[2], access = m[3] ?? "read", name = m[4];
    const type: GPUBufferBindingType = space === "uniform" ? "uniform" : access === "read_write" ? "storage" : "read-only-storage";
    entries.push({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type, hasDynamicOffset: binding === 0 || name === "tab" } });
  }
  if (!entries.some((e) => e.binding === 0 && e.buffer?.type === "uniform")) return null;
  const group = device.createBindGroupLayout({ entries });
  return { group, pipeline: device.createPipelineLayout({ bindGroupLayouts: [group] }) };
}

const layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();

/** Notes that `pipeline` was made with the explicit layout `group` (so its bind groups may be kept). */
export function registerLayout(pipeline: GPUComputePipeline, group: GPUBindGroupLayout): void {
  layouts.set(pipeline, group);
}

/** The explicit bind group layout `pipeline` was made with, if any. */
export function layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout | undefined {
  return layouts.get(pipeline);
}

/** Bind groups by pipeline and arrays (see the module comment), at most `capacity`: past it the least recently used goes. */
export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;
  /** Bind groups made, and dispatches that found theirs made. */
  made = 0;
  reused = 0;

  constructor(private readonly device: GPUDevice, private readonly capacity = 4096) {}

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /**
   * The bind group of `pipeline` (made with `group`, its explicit layout) over `entries` (bindings 1..),
   * with the parameters (binding 0) and, when tableBytes > 0, the table (the binding after the
   * entries) bound to `arena` from offset 0 at those sizes: the dispatch gives their slots as
   * dynamic offsets.
   */
  get(pipeline: GPUComputePipeline, group: GPUBindGroupLayout, arena: GPUBuffer, entries: readonly GPUBindGroupEntry[],
    paramBytes: number, tableBytes: number): GPUBindGroup {
    let key = `${this.id(pipeline)}|${paramBytes}|${tableBytes}`;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${this.id(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    const hit = this.groups.get(key);
    if (hit) {
      this.reused++;
      // the most recently used last: the least recently used goes first when the cache is full
      this.groups.delete(key);
      this.groups.set(key, hit);
      return hit;
    }
    const all: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: arena, offset: 0, size: paramBytes } }, ...entries];
    if (tableBytes > 0) all.push({ binding: entries.length + 1, resource: { buffer: arena, offset: 0, size: tableBytes } });
    const made = this.device.createBindGroup({ layout: group, entries: all });
    if (this.groups.size >= this.capacity) this.groups.delete(this.groups.keys().next().value!);
    this.groups.set(key, made);
    this.made++;
    return made;
  }

  /** Drops every bind group (their buffers may be destroyed: the pool's trim). */
  clear(): void {
    this.groups.clear();
  }
}
