/**
 * Writes the sample images of the playground's image panel: the first test image of each class of
 * a dataset, as an 8-bit gray 28 x 28 PNG, to playground/public/samples/<dataset>/<label>.png
 * (about 300 bytes each; the build copies public/ into the site). The files are committed; run
 * this again only to change the choice.
 *
 * npx tsx tools/playground/samples.ts [mnist | fashion-mnist]   (default mnist)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { checkDatasetName, DATASETS } from "../../src/apps/classify/datasets.js";
import { loadImageSet } from "../../src/apps/classify/idx-files.js";

const dataset = checkDatasetName(process.argv[2] ?? "mnist", "samples");
const out = fileURLToPath(new URL(`../../playground/public/samples/${dataset}/`, import.meta.url));
const set = await loadImageSet(dataset, "test");
const K = DATASETS[dataset].classes.length, side = set.height * set.width;
mkdirSync(out, { recursive: true });
for (let k = 0; k < K; k++) {
  const i = set.labels.indexOf(k);
  if (i < 0) throw new Error(`no test image of class ${k}`);
  const png = new PNG({ width: set.width, height: set.height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(set.images.subarray(i * side, (i + 1) * side));
  writeFileSync(join(out, `${k}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  console.log(`${dataset} test image ${i} (class ${k}, ${DATASETS[dataset].classes[k]}) -> ${join(out, `${k}.png`)}`);
}
