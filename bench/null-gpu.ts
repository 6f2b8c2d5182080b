/// <reference types="@webgpu/types" />
/**
 * A WebGPU implementation that does nothing: every call returns at once, nothing runs, and every
 * read gives zeros. The WebGPU backend on it spends only its own host time (the ops, autograd,
 * the pools, the recorder and its bind groups) with no WebGPU implementation's CPU side and no
 * CPU driver standing in for a GPU, so that time is measured alone, on one thread
 * (`npm run bench -- demo --backend webgpu --null-device`). Results are meaningless.
 *
 * It counts what the backend asks of it (`NullGpuCounts`): the calls a real implementation would
 * spend its own time on.
 *
 * ```ts
 * const gpu = nullGpu();
 * const device = await requestGpuDevice(gpu); // a GpuDevice whose work costs nothing
 * ```
 */

/** The calls made of one null GPU's devices. */
export interface NullGpuCounts {
  buffers: number;
  bindGroups: number;
  pipelines: number;
  encoders: number;
  passes: number;
  setPipeline: number;
  setBindGroup: number;
  dispatches: number;
  copies: number;
  clears: number;
  writeBuffer: number;
  submits: number;
  maps: number;
}

/** Limits of a desktop GPU (Dawn's on a recent NVIDIA card, rounded): what the kernels size themselves by. */
const LIMITS: Record<string, number> = {
  maxStorageBufferBindingSize: 2 ** 31 - 4,
  maxBufferSize: 2 ** 32,
  maxComputeWorkgroupStorageSize: 32768,
  maxStorageBuffersPerShaderStage: 10,
  minStorageBufferOffsetAlignment: 32,
  minUniformBufferOffsetAlignment: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxUniformBufferBindingSize: 65536,
  maxBindGroups: 4,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupSizeZ: 64,
  maxDynamicStorageBuffersPerPipelineLayout: 8,
  maxDynamicUniformBuffersPerPipelineLayout: 8,
};

/** The WebGPU constants the kernels read from globalThis (as a browser and dawn.node provide them). */
const GLOBALS: Record<string, Record<string, number>> = {
  GPUBufferUsage: { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 },
  GPUMapMode: { READ: 1, WRITE: 2 },
  GPUShaderStage: { VERTEX: 1, FRAGMENT: 2, COMPUTE: 4 },
};

class NullBuffer {
  private mapped: ArrayBuffer | null = null;
  mapState: GPUBufferMapState;
  constructor(readonly size: number, readonly usage: number, mappedAtCreation: boolean, private readonly counts: NullGpuCounts) {
    this.mapState = mappedAtCreation ? "mapped" : "unmapped";
  }
  mapAsync(): Promise<void> {
    this.counts.maps++;
    this.mapState = "mapped";
    return Promise.resolve();
  }
  getMappedRange(offset = 0, size = this.size - offset): ArrayBuffer {
    this.mapped ??= new ArrayBuffer(this.size);
    return this.mapped.slice(offset, offset + size);
  }
  unmap(): void {
    this.mapState = "unmapped";
    this.mapped = null;
  }
  destroy(): void {}
}

class NullPass {
  constructor(private readonly counts: NullGpuCounts) {}
  setPipeline(): void {
    this.counts.setPipeline++;
  }
  setBindGroup(): void {
    this.counts.setBindGroup++;
  }
  dispatchWorkgroups(): void {
    this.counts.dispatches++;
  }
  end(): void {}
}

class NullEncoder {
  constructor(private readonly counts: NullGpuCounts) {}
  beginComputePass(): NullPass {
    this.counts.passes++;
    return new NullPass(this.counts);
  }
  copyBufferToBuffer(): void {
    this.counts.copies++;
  }
  clearBuffer(): void {
    this.counts.clears++;
  }
  resolveQuerySet(): void {}
  finish(): object {
    return {};
  }
}

class NullDevice extends EventTarget {
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number> = { ...LIMITS };
  /** Never lost. */
  readonly lost = new Promise<GPUDeviceLostInfo>(() => undefined);
  readonly queue: object;
  constructor(features: readonly string[], private readonly counts: NullGpuCounts) {
    super();
    this.features = new Set(features);
    this.queue = {
      writeBuffer: (): void => void this.counts.writeBuffer++,
      submit: (): void => void this.counts.submits++,
      onSubmittedWorkDone: (): Promise<void> => Promise.resolve(),
    };
  }
  createBuffer(d: GPUBufferDescriptor): NullBuffer {
    this.counts.buffers++;
    return new NullBuffer(d.size, d.usage, d.mappedAtCreation === true, this.counts);
  }
  createShaderModule(): object {
    return { getCompilationInfo: (): Promise<{ messages: never[] }> => Promise.resolve({ messages: [] }) };
  }
  createComputePipeline(): object {
    this.counts.pipelines++;
    const layout = {};
    return { getBindGroupLayout: (): object => layout };
  }
  createBindGroupLayout(): object {
    return {};
  }
  createPipelineLayout(): object {
    return {};
  }
  createBindGroup(): object {
    this.counts.bindGroups++;
    return {};
  }
  createCommandEncoder(): NullEncoder {
    this.counts.encoders++;
    return new NullEncoder(this.counts);
  }
  createQuerySet(d: GPUQuerySetDescriptor): object {
    return { count: d.count, destroy: (): void => undefined };
  }
  pushErrorScope(): void {}
  popErrorScope(): Promise<null> {
    return Promise.resolve(null);
  }
  destroy(): void {}
}

/** A GPU object whose one adapter gives null devices; `counts` tallies their calls. */
export function nullGpu(): GPU & { counts: NullGpuCounts } {
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(GLOBALS)) if (!(name in g)) g[name] = value;
  const counts: NullGpuCounts = {
    buffers: 0, bindGroups: 0, pipelines: 0, encoders: 0, passes: 0, setPipeline: 0, setBindGroup: 0, dispatches: 0,
    copies: 0, clears: 0, writeBuffer: 0, submits: 0, maps: 0,
  };
  const features = ["subgroups", "shader-f16", "timestamp-query"];
  const adapter = {
    features: new Set(features),
    limits: { ...LIMITS },
    isFallbackAdapter: false,
    info: { vendor: "null", architecture: "null", description: "a WebGPU implementation that does nothing (bench/null-gpu.ts)", subgroupMinSize: 32, subgroupMaxSize: 32 },
    requestDevice: (): Promise<NullDevice> => Promise.resolve(new NullDevice(features, counts)),
  };
  const gpu = {
    counts,
    requestAdapter: (): Promise<typeof adapter> => Promise.resolve(adapter),
    getPreferredCanvasFormat: (): string => "bgra8unorm",
    wgslLanguageFeatures: new Set<string>(),
  };
  return gpu as unknown as GPU & { counts: NullGpuCounts };
}
