// 2-D convolution (NCHW, torch's cross-correlation) as GEMMs whose packing reads the image: the
// im2col columns are never written out, and the input gradient's col2im is the GEMM's store.
#pragma once

#include <cstdint>

namespace qkv {

// x [B, C, H, W], w [O, C / G, kH, kW], y [B, O, oH, oW]; G channel groups. Output position
// (oh, ow) of tap (i, j) reads x row oh * sH - padTop + i * dH and column ow * sW - padLeft + j * dW,
// zero outside the image (the bottom / right padding is whatever oH, oW imply).
struct ConvShape {
  int64_t B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW, G;
};

// y = conv(x, w), plus bias [O] when not null.
void conv2dForward(float* y, const float* x, const float* w, const float* bias, const ConvShape& s);

// dx [B, C, H, W] = the gradient of x for dy [B, O, oH, oW] (written, not accumulated).
void conv2dBackwardInput(float* dx, const float* dy, const float* w, const ConvShape& s);

// dw [O, C / G, kH, kW] = the gradient of w for dy and x (written, not accumulated).
void conv2dBackwardWeight(float* dw, const float* dy, const float* x, const ConvShape& s);

}  // namespace qkv
