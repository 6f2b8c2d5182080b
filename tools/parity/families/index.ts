/** Family name -> runner. A family absent here is reported as skipped. */
import type { FamilyRunner } from "../fixture.js";
import { basic } from "./basic.js";
import { mha } from "./mha.js";
import { optim } from "./optim.js";
import { dotCosine, gqa, sdpa } from "./sdpa.js";

export const families: Record<string, FamilyRunner> = {
  sdpa,
  dot_cosine: dotCosine,
  gqa,
  mha,
  basic,
  optim,
};
