/**
 * The step-by-step tab: reads the sentence, seed, head count and mask toggles, recomputes
 * (steps.ts) and redraws (steps-view.ts) on every change, and shows each cell's number in the
 * read-out line as the pointer moves over it.
 */
import { byId, errorText, say } from "./page.js";
import { HEAD_CHOICES, MAX_TOKENS, selfAttentionSteps, tokenize } from "./steps.js";
import { stepsHtml } from "./steps-view.js";

export function setUpSteps(): void {
  const text = byId("steps-text", HTMLInputElement), seed = byId("steps-seed", HTMLInputElement);
  const heads = byId("steps-heads", HTMLSelectElement), causal = byId("steps-causal", HTMLInputElement), padding = byId("steps-padding", HTMLInputElement);
  const out = byId("steps-out", HTMLDivElement), msg = byId("steps-msg", HTMLDivElement), readout = byId("readout", HTMLParagraphElement);
  for (const h of HEAD_CHOICES) {
    const o = document.createElement("option");
    o.value = String(h); o.textContent = String(h); o.selected = h === 2;
    heads.appendChild(o);
  }
  const render = (): void => {
    say(msg, "input", "info", null);
    const n = tokenize(text.value).length;
    if (n === 0) {
      say(msg, "input", "warn", "Type a sentence: the text has no words, so there is nothing to attend to. The other tabs still work.");
      out.innerHTML = "";
      window.qkvPlayground.steps = null;
      return;
    }
    const s = Number(seed.value);
    if (!Number.isInteger(s) || s < 0) {
      say(msg, "input", "warn", `The seed must be a whole number of at least 0 (got "${seed.value}"); seed 0 is used.`);
    }
    try {
      const steps = selfAttentionSteps({ text: text.value, seed: Number.isInteger(s) && s >= 0 ? s : 0, heads: Number(heads.value), causal: causal.checked, padding: padding.checked });
      if (!steps) return;
      if (steps.dropped > 0) say(msg, "input", "warn", `The text has ${n} tokens; the walk-through shows the first ${MAX_TOKENS} (${steps.dropped} left out).`);
      out.innerHTML = stepsHtml(steps);
      window.qkvPlayground.steps = steps;
    } catch (e) {
      say(msg, "input", "error", `Could not compute the steps: ${errorText(e)}`);
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const soon = (): void => { clearTimeout(timer); timer = setTimeout(render, 120); };
  text.addEventListener("input", soon);
  seed.addEventListener("input", soon);
  for (const el of [heads, causal, padding]) el.addEventListener("change", render);
  out.addEventListener("mouseover", (e) => {
    const cell = e.target instanceof Element ? e.target.closest("rect") : null;
    const tip = cell?.querySelector("title")?.textContent;
    const fig = cell?.closest("svg")?.getAttribute("aria-label");
    if (tip) readout.textContent = `${fig ? `${fig}: ` : ""}${tip}`;
  });
  render();
}
