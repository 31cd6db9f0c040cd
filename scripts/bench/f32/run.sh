#!/usr/bin/env bash
# Times pairranker's packed float32 GEMM (Sources/CGemm) against OpenBLAS SGEMM on the model's
# dense shapes (128, 256 and 384 rows), on 1 and 2 threads, in one process, and prints both
# sides' largest error against a float64 reference.
#   bash scripts/bench/f32/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")"
out=${TMPDIR:-/tmp}/pairranker-gemm-f32
src=../../../Sources/CGemm   # compiled as SwiftPM compiles it: clang, -O3, no -march
clang -O3 -I"$src/include" gemm_f32.c "$src/gemm_f32.c" -o "$out" $(pkg-config --cflags --libs openblas) -lpthread -lm
OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} "$out" "${1:-7}"
