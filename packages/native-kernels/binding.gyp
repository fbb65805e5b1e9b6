{
  "targets": [
    {
      "target_name": "cut_native_kernels",
      "sources": ["native/conv.cc", "native/eltwise.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!(node -p \"process.env.DNNL_ROOT ? process.env.DNNL_ROOT + '/include' : ''\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp"],
      "libraries": [
        "<!(node -p \"process.env.DNNL_ROOT ? '-L' + process.env.DNNL_ROOT + '/lib' : ''\")",
        "-ldnnl",
        "-fopenmp",
        "-Wl,--disable-new-dtags,-rpath,'$$ORIGIN'"
      ]
    }
  ]
}
