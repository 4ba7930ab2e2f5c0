#!/usr/bin/env bash
# The checks to run on a GPU machine, in one call: the CUDA bundle built by
#   scripts/build-cuda.sh --release --features cuda --example cuda_check --example ray_tracing_device --example network_benchmark
# into .gpu/, then (on the GPU machine, from the repository root) `scripts/device-check.sh`.
# Each step has a time limit; the outputs go to $OUT (or output/) as device-check.txt.
set -u
out="${OUT:-output}"
mkdir -p "$out"
log="$out/device-check.txt"
. .gpu/device-env.sh
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
  echo "== cuda_check";          timeout 300 .gpu/cuda_check 2>&1
  echo "== ray_tracing_device";  timeout 120 .gpu/ray_tracing_device --cuda --f32 2>&1
  echo "== network_benchmark";   timeout 300 .gpu/network_benchmark --cuda 2>&1
} | tee "$log"
