/**
 * The control block of the worker pool: a few Int32 slots and the job's arguments (f64) at a fixed
 * byte offset of the shared memory (the start of the heap, before the arena), read by the main
 * thread and every worker.
 */

/** Int32 slot indices. */
export const GEN = 0; // job generation: bumped (and notified) to start a job
export const PENDING = 1; // workers still running the current job (notified at 0)
export const READY = 2; // workers that instantiated the module
export const STOP = 3; // 1: workers leave their loop
export const KERNEL = 4; // index into partKernelNames
export const NARGS = 5; // argument count
export const PARTS = 6; // threads taking part (workers with tid >= PARTS sit the job out)
export const FAILED = 7; // 1: a worker's kernel threw

/** Byte offset of the f64 arguments in the block, and how many fit. */
export const ARGS_OFFSET = 64;
export const MAX_ARGS = 32;

/** Bytes the block takes (64-aligned). */
export const CONTROL_BYTES = ARGS_OFFSET + MAX_ARGS * 8;
