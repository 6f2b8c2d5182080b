/**
 * qkv: self-attention with autograd, PyTorch semantics and numbers.
 *
 * ```ts
 * import { randn, MultiheadAttention } from "qkv";
 * const mha = new MultiheadAttention(16, 4, { batchFirst: true });
 * const x = randn([2, 5, 16]);
 * const { output } = mha.forward(x, x, x); // [2, 5, 16]
 * ```
 */
export * from "./tensor/dtype.js";
export * from "./tensor/errors.js";
export { numel, broadcastShapes, type Shape } from "./tensor/shape.js";
export * from "./tensor/rng.js";
export * from "./tensor/tensor.js";
export { setBufferPool, clearPool, poolBytes } from "./tensor/pool.js";

export type {
  Backend, AnyBackend, KernelArray, BackendName, AttentionArgs, AttentionLayouts, RowStrides, Conv2dArgs, UnaryOp, BinaryOp,
} from "./backend/backend.js";
export type { Pool2dArgs, AvgPool2dArgs, AdaptivePool2dArgs } from "./backend/backend.js";
export { contiguousLayouts, contiguousRowStrides } from "./backend/backend.js";
export { setBackend, getBackend, availableBackends, registerBackend, hostBackend } from "./backend/registry.js";
export { toDevice } from "./backend/tensor-arrays.js";
export { withHostData } from "./backend/host-copies.js";
export { readAll } from "./tensor/read-all.js";
export { runReadSteps, runReadStepsAsync, type ReadSteps } from "./tensor/read-steps.js";
export type { DeviceArray, DeviceStore } from "./tensor/device.js";
export { WebGPUBackend, useWebGPU, type UseWebGPUOptions } from "./backend/webgpu/index.js";
export {
  loadWasmBackend, loadWasmBackendSync, useWasm, setWasmThreads, getWasmThreads, defaultWasmThreads, type WasmOptions,
} from "./backend/wasm/load.js";
export type { WasmBackend } from "./backend/wasm/backend.js";

export { noGrad, noGradAsync, enableGrad, isGradEnabled } from "./autograd/graph.js";
export { backward, zeroGrad } from "./autograd/backward.js";
export { freeGraph } from "./autograd/free-graph.js";
export { gradcheck, type GradcheckOptions } from "./autograd/gradcheck.js";

export * from "./ops/elementwise.js";
export * from "./ops/matmul.js";
export * from "./ops/shape.js";
export * from "./ops/reduce.js";
export { topk } from "./ops/topk.js";
export * from "./ops/softmax.js";
export * from "./ops/norm.js";
export * from "./ops/functional.js";

export * from "./attention/sdpa.js";
export { headsAttention, headsAttentionKV, packedSelfAttention, type PackedAttentionOptions } from "./ops/packed-attention.js";

export * from "./nn/module.js";
export * from "./nn/prepack.js";
export * from "./nn/init.js";
export * from "./nn/layers.js";
export * from "./nn/multihead-attention.js";
export * from "./nn/positional.js";

export * from "./io/safetensors.js";
export * from "./viz/heatmap.js";
export * from "./data/dates.js";
export * from "./nn/rope.js";
export * from "./nn/alibi.js";
export * from "./nn/kv-cache.js";
export * from "./nn/gqa-attention.js";
export * from "./nn/learned-positional.js";
export {
  TransformerEncoderLayer, TransformerEncoder, generateSquareSubsequentMask,
  type Activation, type TransformerLayerOptions, type EncoderLayerForwardOptions, type TransformerEncoderOptions,
} from "./nn/transformer.js";
export { TransformerDecoderLayer, TransformerDecoder, type DecoderLayerForwardOptions, type TransformerDecoderOptions } from "./nn/transformer-decoder.js";
export { Transformer, type TransformerOptions, type TransformerForwardOptions } from "./nn/transformer-model.js";

export { Optimizer, type BaseOptions, type ParamGroup, type ParamGroupSpec, type Params, type ParamGroupState, type OptimizerState, type HyperValue } from "./optim/optimizer.js";
export { SGD, type SGDOptions } from "./optim/sgd.js";
export { Adam, AdamW, type AdamOptions } from "./optim/adam.js";
export { LRScheduler, constant, warmupCosine, warmupInverseSqrt, type Schedule, type SchedulerState } from "./optim/schedule.js";
export { clipCoefficientTensor, clipGradNorm, clipGradNormAsync, clipGradNormTensor, clipGradValue } from "./optim/clip.js";
export { fit, type FitOptions, type FitResult, type StepInfo, type StepCallback } from "./train/fit.js";
export { captureTrainState, captureTrainStateAsync, restoreTrainState, type TrainState, type TrainParts, type EvalRecord, type GeneratorState } from "./train/state.js";

export * from "./attention/sparse.js";
export * from "./attention/window.js";
export * from "./attention/global.js";
export * from "./attention/bigbird.js";
export * from "./attention/block-sparse.js";
export * from "./attention/linformer.js";
export * from "./attention/nystrom.js";
export * from "./attention/linear.js";
export * from "./attention/performer.js";
export * from "./attention/select.js";
export * from "./attention/causal.js";
export * from "./nn/efficient-self-attention.js";
export { scatterAdd, segmentSoftmax } from "./ops/scatter.js";
export { LSTMCell, GRUCell, lstmStep, gruStep, type RNNCellOptions } from "./nn/rnn-cell.js";
export { LSTM, GRU, type RNNOptions, type RNNResult, type LSTMResult } from "./nn/rnn.js";
export { GATConv, type GATConvOptions, type GATConvForwardOptions, type GATConvResult } from "./nn/gat.js";
export { TransformerConv, type TransformerConvOptions, type TransformerConvForwardOptions, type TransformerConvResult } from "./nn/transformer-conv.js";

// interpretability
export { captureAttention, attentionModules, recordsOf, attentionTimesGradient, type AttentionRecord, type AttentionRecordKind, type CaptureOptions, type CaptureResult } from "./interpret/capture.js";
export { attentionRollout, attentionFlow, headMean, residualAttention, type RolloutOptions, type FlowOptions } from "./interpret/rollout.js";
export { FlowNetwork } from "./interpret/maxflow.js";
export { headStats, type HeadStats } from "./interpret/head-stats.js";
export { attentionPageHtml, type AttentionPageData, type ViewGroup, type ViewLayer, type ViewMatrix } from "./viz/attention-view.js";
export { pageDataFromCapture, type PageFromCaptureOptions } from "./viz/from-capture.js";
export { graphPageHtml, graphLayerFromRecord, type GraphPageData, type GraphLayer } from "./viz/graph-view.js";
export { gradientRollout, positiveGradientAttention } from "./interpret/gradient-rollout.js";
export { imagePageHtml, type ImagePageData, type ImageLayer, type ImageOverlay, type ViewImage } from "./viz/image-view.js";
export { imagePageDataFromCapture, pooledRow, type ImagePageFromCaptureOptions } from "./viz/image-from-capture.js";

// metrics
export { corpusBleu, sentenceBleu, formatBleu, tokenize13a, type BleuOptions, type BleuResult, type BleuTokenizer, type BleuSmoothing } from "./metrics/bleu.js";
export { corpusRouge, sentenceRouge, rougeN, rougeL, rougeTokenize, type RougeScore, type RougeScores, type CorpusRouge } from "./metrics/rouge.js";

// text
export { BpeTokenizer, DEFAULT_SPECIAL_TOKENS, type BpeTrainOptions, type BpeDecodeOptions } from "./text/bpe.js";
export { BYTE_TO_CHAR, CHAR_TO_BYTE, GPT2_PATTERN, preTokenize, bytesToSymbols, symbolsToBytes, symbolsToText } from "./text/byte-level.js";
export { MAX_TOKENIZER_JSON_CHARS, MAX_TOKENIZER_ENTRIES } from "./text/tokenizer-json.js";

// vision
export { conv2d, type Conv2dOptions, type IntPair } from "./ops/conv.js";
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from "./ops/pool.js";
export { batchNorm, type BatchNormOptions } from "./ops/batchnorm.js";
export { Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, type Conv2dModuleOptions, type BatchNorm2dOptions } from "./nn/conv.js";
export {
  PatchEmbedding, ViTAttention, ViTMlp, ViTBlock, VisionTransformer, sincos2dPositionalEncoding, resolveViTConfig, vitTokens, vitStateSize,
  MAX_VIT_IMAGE_SIDE, type ViTConfig, type ViTLayerOptions, type ResolvedViTConfig, type ViTPooling, type ViTPositions,
} from "./nn/vit.js";
export { ConvStem, ConvStage, stemStateSize } from "./nn/hybrid.js";

// sequence to sequence (the text applications' pieces)
export { Seq2SeqTransformer, resolveSeq2SeqConfig, type Seq2SeqConfig } from "./nn/seq2seq.js";
export { SpanExtractor, resolveSpanConfig, type SpanConfig, type SpanSearchOptions, type SpanChoice } from "./nn/span-extractor.js";
export { TokenBatches, makeSeq2SeqBatch, type IdPair, type Seq2SeqBatch, type TokenBatchOptions } from "./seq2seq/batching.js";
export { greedySearch, greedySearchAsync, greedySteps, beamSearch, beamSearchAsync, beamSteps, type Seq2SeqModel, type SearchOptions, type BeamOptions } from "./seq2seq/search.js";
export { parseTsv, type TsvOptions, type TsvTable } from "./data/tsv.js";
export { encodeTextModel, decodeTextModel, tokenizerFingerprint, type TextModelBundle, type TextModelKind, type TextTaskName } from "./apps/text/model-file.js";
export { TextGenerator, type GenerateOptions } from "./apps/text/generator.js";
export { TASKS, scoreTask, formatScoreLine, type TextTask } from "./apps/text/tasks.js";

// image classification (the qkv classify app's browser-safe parts)
export { encodeClassifier, decodeClassifier, type ClassifierBundle, type ClassifierKind } from "./apps/classify/model-file.js";
export { DATASETS, DATASET_NAMES, splitValidation, subset, type DatasetName, type DatasetInfo, type ImageSet } from "./apps/classify/datasets.js";
export { parseIdx, type IdxArray } from "./apps/classify/idx.js";
export { ImageBatches, imagesToTensor, type ImageBatch, type ImageBatchOptions, type Normalization } from "./apps/classify/batches.js";
export { scoreImages, formatAccuracyLine, type ImageScores } from "./apps/classify/evaluate.js";

// Hugging Face checkpoints (BERT-shaped encoders, ViTs)
export { loadHfBert, parseHfBertConfig, hfBertNameMap, BertModel, BertEmbeddings, HfConfigError, HF_IGNORED_FIELDS, type HfBertConfig, type BertForwardOptions } from "./interop/hf.js";
export { loadHfViT, parseHfViTConfig, hfViTNameMap, vitConfigOfHf, type HfViTConfig } from "./interop/hf-vit.js";
