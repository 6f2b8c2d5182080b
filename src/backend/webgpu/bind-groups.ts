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
 * const group = cache.get(pipeline, ex!.group, arena, bindings, paramBytes, tableBytes); // then setBindGroup(0, group, [paramAt, tableAt])
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

/**
 * The arrays of one dispatch's bindings 1..n, each a window of a buffer: bytes [start, start + size),
 * and the buffer's id (kernels.ts takes the pool's). kernels.ts fills one and reuses it for every
 * dispatch, so a dispatch whose bind group is kept makes no objects.
 */
export interface Bindings {
  n: number;
  buffers: GPUBuffer[];
  ids: number[];
  starts: number[];
  sizes: number[];
}

/** A kept bind group, the numbers it was made for (see `BindGroupCache.get`) and when it was last used. */
interface Kept {
  key: number[];
  group: GPUBindGroup;
  used: number;
}

/**
 * Bind groups by pipeline and arrays (see the module comment), at most `capacity`: when it is full,
 * the least recently used quarter goes. A bind group's key is a list of numbers (the pipeline's
 * id, the parameters' and table's sizes, then each binding's buffer id, start and size), kept by a
 * hash of them and compared in full.
 */
export class BindGroupCache {
  private readonly groups = new Map<number, Kept[]>();
  private readonly ids = new WeakMap<GPUComputePipeline, number>();
  private nextId = 1;
  private size = 0;
  private clock = 0;
  /** The key of the dispatch being looked up (reused). */
  private readonly key: number[] = [];
  /** Bind groups made, and dispatches that found theirs made. */
  made = 0;
  reused = 0;

  /** `hash`: of a key's numbers (a test gives one that collides). */
  constructor(private readonly device: Pick<GPUDevice, "createBindGroup">, private readonly capacity = 4096,
    private readonly hash: (key: readonly number[]) => number = hashOf) {}

  private id(p: GPUComputePipeline): number {
    let id = this.ids.get(p);
    if (id === undefined) this.ids.set(p, (id = this.nextId++));
    return id;
  }

  /**
   * The bind group of `pipeline` (made with `group`, its explicit layout) over `b` (bindings 1..n),
   * with the parameters (binding 0) and, when tableBytes > 0, the table (binding n + 1) bound to
   * `arena` from offset 0 at those sizes: the dispatch gives their slots as dynamic offsets.
   */
  get(pipeline: GPUComputePipeline, group: GPUBindGroupLayout, arena: GPUBuffer, b: Bindings, paramBytes: number,
    tableBytes: number): GPUBindGroup {
    const key = this.key;
    key.length = 3 + 3 * b.n;
    key[0] = this.id(pipeline);
    key[1] = paramBytes;
    key[2] = tableBytes;
    for (let i = 0; i < b.n; i++) {
      key[3 + 3 * i] = b.ids[i]!;
      key[4 + 3 * i] = b.starts[i]!;
      key[5 + 3 * i] = b.sizes[i]!;
    }
    const h = this.hash(key);
    const bucket = this.groups.get(h);
    if (bucket) {
      for (const k of bucket) {
        if (!sameKey(k.key, key)) continue;
        this.reused++;
        k.used = ++this.clock;
        return k.group;
      }
    }
    const made = this.device.createBindGroup({ layout: group, entries: bindGroupEntries(arena, 0, paramBytes, b, 0, tableBytes) });
    if (this.size >= this.capacity) this.dropOldest(Math.max(1, Math.floor(this.capacity / 4)));
    const entry = { key: key.slice(), group: made, used: ++this.clock };
    const now = this.groups.get(h);
    if (now) now.push(entry);
    else this.groups.set(h, [entry]);
    this.size++;
    this.made++;
    return made;
  }

  /** Drops the `count` least recently used bind groups. */
  private dropOldest(count: number): void {
    const all: number[] = [];
    for (const bucket of this.groups.values()) for (const k of bucket) all.push(k.used);
    all.sort((x, y) => x - y);
    const last = all[Math.min(count, all.length) - 1]!; // clock values are distinct
    for (const [h, bucket] of this.groups) {
      const keep = bucket.filter((k) => k.used > last);
      this.size -= bucket.length - keep.length;
      if (keep.length === 0) this.groups.delete(h);
      else if (keep.length !== bucket.length) this.groups.set(h, keep);
    }
  }

  /** Drops every bind group (their buffers may be destroyed: the pool's trim). */
  clear(): void {
    this.groups.clear();
    this.size = 0;
  }
}

/**
 * The entries of a bind group: binding 0 the parameters at `arena` [paramAt, + paramBytes), then
 * the windows of `b`, then (tableBytes > 0) the table at `arena` [tableAt, + tableBytes).
 */
export function bindGroupEntries(arena: GPUBuffer, paramAt: number, paramBytes: number, b: Bindings, tableAt: number,
  tableBytes: number): GPUBindGroupEntry[] {
  const all: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: arena, offset: paramAt, size: paramBytes } }];
  for (let i = 0; i < b.n; i++) all.push({ binding: i + 1, resource: { buffer: b.buffers[i]!, offset: b.starts[i]!, size: b.sizes[i]! } });
  if (tableBytes > 0) all.push({ binding: b.n + 1, resource: { buffer: arena, offset: tableAt, size: tableBytes } });
  return all;
}

/** A 32-bit hash of the numbers of a key (FNV-1a over their low 32 bits and, past 2^32, the rest). */
function hashOf(key: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const v of key) {
    h = Math.imul(h ^ (v | 0), 0x01000193);
    if (v > 0xffffffff) h = Math.imul(h ^ Math.floor(v / 0x100000000), 0x01000193);
  }
  return h;
}

function sameKey(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
