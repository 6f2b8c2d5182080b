/** Family name -> runner. A family absent here is reported as skipped. */
import type { FamilyRunner } from "../fixture.js";
import { basic } from "./basic.js";
import { efficient } from "./efficient.js";
import { alibi } from "./alibi.js";
import { rope } from "./rope.js";
import { transformer } from "./transformer.js";
import { mha } from "./mha.js";
import { optim } from "./optim.js";
import { dotCosine, gqa, sdpa } from "./sdpa.js";
import { rnn } from "./rnn.js";
import { gat } from "./gat.js";
import { vision } from "./vision.js";

export const families: Record<string, FamilyRunner> = {
  sdpa,
  dot_cosine: dotCosine,
  gqa,
  mha,
  basic,
  rope,
  alibi,
  transformer,
  optim,
  efficient,
  rnn,
  gat,
  vision,
};
