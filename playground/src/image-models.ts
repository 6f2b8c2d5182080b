/**
 * The image classifiers the page can offer, and which of them this build holds: the build
 * (vite.config.ts) copies those of models/ that exist and names them in `__QKV_IMAGE_MODELS__`.
 * Each has sample images, the first test image of each class (tools/playground/samples.ts), in
 * public/samples/<dataset>/<label index>.png.
 */

export interface ImageModel {
  /** The folder in models/. */
  name: string;
  dataset: "mnist" | "fashion-mnist";
  label: string;
  /** The class names, in label order (the sample files' order). */
  classes: readonly string[];
  /** What the drawing pad asks for. */
  draw: string;
  /** The box a drawing is scaled into before it is centred on 28 x 28 (digit-prep.ts): MNIST's digits fit 20 x 20, Fashion-MNIST's items the whole image. */
  box: number;
}

export const IMAGE_MODELS: readonly ImageModel[] = [
  {
    name: "classify-mnist", dataset: "mnist", label: "MNIST digits (vision transformer)",
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], draw: "Draw a digit", box: 20,
  },
  {
    name: "classify-fashion-mnist", dataset: "fashion-mnist", label: "Fashion-MNIST clothing (vision transformer)",
    classes: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    draw: "Draw a piece of clothing", box: 28,
  },
];

declare const __QKV_IMAGE_MODELS__: readonly string[] | undefined;

/** The image models this build copied in (all of them when the page is not built by vite.config.ts). */
export function builtImageModels(): ImageModel[] {
  const built = typeof __QKV_IMAGE_MODELS__ === "undefined" ? null : __QKV_IMAGE_MODELS__;
  return IMAGE_MODELS.filter((m) => built === null || built.includes(m.name));
}

/** Where a sample image of class `k` is, relative to the page. */
export const sampleUrl = (m: ImageModel, k: number): string => `samples/${m.dataset}/${k}.png`;
