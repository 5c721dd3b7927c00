#!/usr/bin/env bash
# Build the C++ backend with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/,
# run the native kernel test under them, then the vitest suite forced to the cpp backend
# with that addon loaded into Node (libasan preloaded: Node itself is not instrumented, so
# the ASan runtime must come first). Leak detection is off for the Node run: V8 and Node
# keep memory until exit by design, which LeakSanitizer would report. Any ASan or UBSan
# report aborts the process and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-asan
config=RelWithDebInfo
start=$(date +%s)

npx cmake-js build --log-level warn --out "$out" --config "$config" --CDCIMM_SANITIZE=ON

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  ctest --test-dir "$out" --output-on-failure

libasan=$(${CXX:-c++} -print-file-name=libasan.so)
if [[ ! -e "$libasan" ]]; then
  echo "sanitize-cpp: cannot find libasan.so for ${CXX:-c++}" >&2
  exit 1
fi
addon="$PWD/$out/$config/cimm_cpp.node"
[[ -e "$addon" ]] || addon="$PWD/$out/cimm_cpp.node"
echo "sanitize-cpp: vitest with $addon, LD_PRELOAD=$libasan"
LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  CIMM_CPP_ADDON="$addon" CIMM_BACKEND=cpp CIMM_REQUIRE_BACKENDS=cpp \
  npx vitest run

echo "sanitize-cpp: passed in $(($(date +%s) - start)) s"
