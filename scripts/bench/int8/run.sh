#!/usr/bin/env bash
# Times the int8 GEMM candidates (our kernels from Sources/CInt8: AVX512-VNNI, and AMX where the
# CPU has it; oneDNN's u8s8s32 GEMM) against OpenBLAS SGEMM on the model's dense shapes, one
# thread, in one process.
#   bash scripts/bench/int8/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")"
dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed" || apt-get install -y -qq libdnnl-dev >/dev/null
out=${TMPDIR:-/tmp}/pairranker-gemm-int8
src=../../../Sources/CInt8   # compiled as SwiftPM compiles it: clang, -O2, no -march
clang -O2 -I"$src/include" gemm_int8.c "$src/int8.c" -o "$out" $(pkg-config --cflags --libs openblas) -ldnnl -lm
# One thread for every side: oneDNN (OpenMP) would otherwise take every core.
OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} "$out" "${1:-7}"
