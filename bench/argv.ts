/**
 * Command-line options of the single-purpose benches (bench/conv.ts, bench/short-attention.ts):
 * `--name value` pairs read from an argument list.
 *
 *   const args = benchArgs(process.argv.slice(2));
 *   const reps = args.int("reps", 10);
 */
export interface BenchArgs {
  /** The value after `--name`, if the option is there. */
  opt(name: string): string | undefined;
  /** `--name` as a positive integer, or `fallback` when absent; anything else ends the bench (badOption). */
  int(name: string, fallback: number): number;
}

/** Ends a bench over a bad option: the message on stderr, no stack trace, exit status 2. */
export function badOption(message: string): never {
  console.error(message);
  process.exit(2);
}

export function benchArgs(argv: string[]): BenchArgs {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    opt,
    int(name, fallback) {
      const v = opt(name);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) badOption(`--${name} needs a positive integer, got ${v}`);
      return n;
    },
  };
}
