#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) and runs each for SECONDS.
#   scripts/fuzz.sh [SECONDS] [TARGET...]        targets: http json tokenizer checkpoint request app
# Seed corpora live in fuzz/corpus/<target>; crashes are written to .build/fuzz/<target>/ and
# each one found becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
targets=${*:-http json tokenizer checkpoint request app}
out=${FUZZ_OUT:-.build/fuzz}
mkdir -p "$out"
build() {
  local t=$1; shift
  mkdir -p "$out/bin"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name Fuzz"$t" "$@" "fuzz/$t.swift" -o "$out/bin/$t" 2>&1 \
    | grep -v -E "warning|^\s*[0-9]* \||^\s*\||^$" || true
  [ -x "$out/bin/$t" ] || { echo "fuzz: building $t failed" >&2; exit 1; }
}
# Targets that drive the service end to end need the model modules: build them instrumented
# with SwiftPM (a debug build, so @testable imports work), then link their objects in.
build_with_modules() {
  local t=$1
  swift build --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address --target RankerHTTP >/dev/null
  objs=$(ls .build-fuzz/debug/{Sync,CInt8,CGemm,Tensors,Checkpoints,Tokenizer,DeBERTa,PairRanker,PairEngine,RankerService,RankerHTTP,HTTPServer}.build/*.o)
  # shellcheck disable=SC2086
  build "$t" -I .build-fuzz/debug/Modules -Xcc -fmodule-map-file=Sources/COpenBLAS/module.modulemap \
    -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap \
    -Xcc -fmodule-map-file=.build-fuzz/debug/CInt8.build/module.modulemap -Xcc -I -Xcc Sources/CInt8/include \
    -Xcc -fmodule-map-file=.build-fuzz/debug/CGemm.build/module.modulemap -Xcc -I -Xcc Sources/CGemm/include $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
    $objs $(pkg-config --libs openblas) -lz
}
for t in $targets; do
  case $t in
    http) build http Sources/HTTPServer/HTTPParser.swift Sources/HTTPServer/HTTPMessage.swift ;;
    json) build json Sources/RankerService/JSON.swift ;;
    tokenizer) build tokenizer Sources/Tokenizer/*.swift ;;
    checkpoint) build checkpoint -I Sources/CZlib -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap -lz Sources/Checkpoints/*.swift ;;
    # Request validation end to end (RankerService.handle, any route and body).
    request) build_with_modules request ;;
    # The HTTP app layer: methods, targets, headers (auth, Content-Type, timeouts) and bodies.
    app) build_with_modules app ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
status=0
for t in $targets; do
  mkdir -p "$out/$t/corpus"
  log="$out/$t.log"
  if ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$out/bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/$t/" \
       "$out/$t/corpus" "fuzz/corpus/$t" > "$log" 2>&1; then
    echo "fuzz $t: $(grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1 | awk '{print $1, $2, $3, $4, $5, $6}') in ${secs}s, no crash"
  else
    echo "fuzz $t: CRASH, see $log and $out/$t/crash-*" >&2
    status=1
  fi
done
exit $status
