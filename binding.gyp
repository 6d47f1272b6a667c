{
  "targets": [
    {
      "target_name": "shmsync",
      "sources": [
        "native/core/shm-region.cc",
        "native/core/attach.cc",
        "native/core/owner-table.cc",
        "native/core/deadman-list.cc",
        "native/core/robust-lock.cc",
        "native/core/rw-lock.cc",
        "native/core/parker.cc",
        "native/core/futex-ring.cc",
        "native/core/ring.cc",
        "native/core/test-ledger.cc",
        "native/addon/addon.cc",
        "native/addon/errors.cc",
        "native/addon/external-buffer.cc",
        "native/addon/region-wrap.cc",
        "native/addon/attachment.cc",
        "native/addon/context.cc",
        "native/addon/mutex-wrap.cc",
        "native/addon/rwlock-wrap.cc",
        "native/addon/queue-wrap.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-O3"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"
      },
      "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17"]}},
      "conditions": [
        ["OS=='linux'", {"libraries": ["-lrt", "-pthread"]}]
      ]
    }
  ]
}
