/**
 * The canvas the user draws a digit on, with a mouse, a pen or a finger (pointer events; the
 * canvas takes no touch scrolling): white round strokes on black, as MNIST's digits are. After
 * each stroke `onStroke` hears about it; `gray()` reads the drawing back as one gray byte per
 * canvas pixel, for digit-prep.ts. A sample image can be shown on it (scaled up, square pixels)
 * and drawn over.
 *
 * ```ts
 * const pad = new DigitPad(canvas, () => send(prepareDigit(pad.gray(), pad.width, pad.height)));
 * pad.show(samplePixels, 28, 28);
 * ```
 */

/** Stroke width as a share of the canvas side: MNIST strokes are about 2 px of a 20 px digit. */
const STROKE = 0.075;

export class DigitPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private pointer: number | null = null;
  /** Whether anything is on the pad (drawn or shown). */
  empty = true;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onStroke: () => void) {
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("this browser gives no 2D canvas to draw on");
    this.ctx = ctx;
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const end of ["pointerup", "pointercancel"] as const) canvas.addEventListener(end, (e) => this.up(e));
    this.clear();
  }

  get width(): number { return this.canvas.width; }
  get height(): number { return this.canvas.height; }

  clear(): void {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.width, this.height);
    this.empty = true;
  }

  /** Shows a gray image (height x width, row by row) filling the pad. */
  show(pixels: ArrayLike<number>, height: number, width: number): void {
    this.clear();
    const cw = this.width / width, ch = this.height / height;
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const v = Math.round(Number(pixels[r * width + c]));
        if (v <= 0) continue;
        this.ctx.fillStyle = `rgb(${v},${v},${v})`;
        this.ctx.fillRect(Math.floor(c * cw), Math.floor(r * ch), Math.ceil(cw), Math.ceil(ch));
      }
    }
    this.empty = false;
  }

  /** The drawing as gray bytes (the red channel; strokes are white), width x height. */
  gray(): Uint8Array {
    const rgba = this.ctx.getImageData(0, 0, this.width, this.height).data, out = new Uint8Array(this.width * this.height);
    for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i]!;
    return out;
  }

  private at(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * this.width, y: ((e.clientY - r.top) / r.height) * this.height };
  }

  private down(e: PointerEvent): void {
    if (this.pointer !== null || e.button > 0) return;
    e.preventDefault();
    this.pointer = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.at(e);
    this.line(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (e.pointerId !== this.pointer || !this.last) return;
    e.preventDefault();
    const p = this.at(e);
    this.line(this.last, p);
    this.last = p;
  }

  private up(e: PointerEvent): void {
    if (e.pointerId !== this.pointer) return;
    this.pointer = null;
    this.last = null;
    this.onStroke();
  }

  private line(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = "#fff";
    c.lineWidth = STROKE * Math.min(this.width, this.height);
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x, b.y);
    c.stroke();
    this.empty = false;
  }
}
