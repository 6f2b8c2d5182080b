{
  "targets": [
    {
      "target_name": "qkv_native",
      "sources": [
        "native/addon.cc",
        "native/allocator.cc",
        "native/attention.cc",
        "native/attention_avx2.cc",
        "native/attention_avx512.cc",
        "native/attention_portable.cc",
        "native/conv.cc",
        "native/cpu.cc",
        "native/dropout.cc",
        "native/elementwise.cc",
        "native/gemm.cc",
        "native/kernels_avx2.cc",
        "native/kernels_avx512.cc",
        "native/kernels_scalar.cc",
        "native/layernorm.cc",
        "native/linear_attention.cc",
        "native/peak.cc",
        "native/pool.cc",
        "native/softmax.cc",
        "native/sparse_attention.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function", "-Wno-maybe-uninitialized"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20", "-std=c++20"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2"] }
      }
    }
  ]
}
