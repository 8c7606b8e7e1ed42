# The inotify binding (native/inotify.cc), built at install by native/build.mjs with node-gyp.
{
  "targets": [
    {
      "target_name": "sync_inotify",
      "sources": ["native/inotify.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
