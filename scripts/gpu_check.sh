#!/usr/bin/env bash
# scripts/gpu_check.sh: the CUDA backend's checks and benchmarks on a GPU
# machine, in one run: the CUDA test suite, bench_cuda_kernels next to
# torch_cuda_kernels.py, bench_cuda_steps next to torch_gan.py and
# torch_ddpm.py (DCGAN and DDPM U-Net steps at batch 64 and 256), and a
# dcgan run with --device cuda that writes a sample grid and resumes on the
# CPU. What it measured goes into OUT: gpu_check.log (everything printed,
# with the GPU, driver and CPU), the two Google Benchmark JSON files,
# torch.log (PyTorch's JSON lines) and dcgan_samples.png.
#
#   scripts/gpu_check.sh ROOT OUT
#
# ROOT is a build tree configured with the CUDA backend, tests, examples and
# benchmarks, or a folder made by scripts/gpu_bundle.sh (which also holds
# lib/, a data/ slice of Fashion-MNIST and the PyTorch scripts). PyTorch 2
# with CUDA must be importable by python3 for the comparisons. Each step has
# a time limit and a failing step does not stop the others; the exit status
# says whether all passed.
set -uo pipefail
root=$(cd "${1:?usage: gpu_check.sh ROOT OUT}" && pwd)
out=$(mkdir -p "${2:?usage: gpu_check.sh ROOT OUT}" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
py=$here/benchmarks
[ -d "$py" ] || py=$here/../benchmarks
data=$root/data
[ -d "$data" ] || data=/usr/share/datasets/fashion-mnist
log=$out/gpu_check.log
work=$(mktemp -d)
failed=0

bin() { find "$root" -type f -name "$1" -perm -u+x | head -1; }
# Runs "$@" under a time limit of $1 seconds, its output into the log.
step() {
  local limit=$1 rc
  shift
  echo "=== $* (limit ${limit}s)" >>"$log"
  timeout "$limit" "$@" >>"$log" 2>&1
  rc=$?
  echo "=== exit $rc" >>"$log"
  [ $rc -eq 0 ] || failed=1
}

# NVIDIA's libraries: the bundle's lib/ first, then, when the binaries do
# not find cuDNN or cuBLAS, the folders of a pip-installed PyTorch's copies.
export LD_LIBRARY_PATH=$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tests=$(bin genmodel_cuda_tests)
if ldd "$tests" | grep -q "not found"; then
  for d in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
    for lib in $(find "$d/nvidia" \( -name 'libcudnn.so.9' -o -name 'libcublas.so.13' -o -name 'libcudart.so.13' \) \
                 2>/dev/null); do
      LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$lib")
    done
  done
fi

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  lscpu | grep 'Model name'
  ldd "$tests" | grep -E 'cudnn|cublas|cudart|not found'
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
} >>"$log" 2>&1

step 300 "$tests" --durations yes
step 240 "$(bin bench_cuda_kernels)" --benchmark_min_time=0.2 --benchmark_out="$out/bench_cuda_kernels.json"
step 240 "$(bin bench_cuda_steps)" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/bench_cuda_steps.json"
: >"$out/torch.log"
torch_step() {
  echo "=== $*" >>"$out/torch.log"
  timeout 180 python3 "$@" >>"$out/torch.log" 2>&1 || { echo "=== failed: $*" >>"$out/torch.log"; failed=1; }
}
torch_step "$py/torch_cuda_kernels.py"
for b in 64 256; do
  torch_step "$py/torch_gan.py" bench --models dcgan --device cuda --batch $b --threads 1
  torch_step "$py/torch_ddpm.py" bench --models ddpm --device cuda --batch $b --threads 1
done

# The trainer end to end: GPU steps writing a grid and a checkpoint, then
# four more steps resumed from it on the CPU.
dcgan=$(bin dcgan)
step 240 "$dcgan" --device cuda --data "$data" --limit 640 --steps 200 --sample-every 0 --out "$work/dcgan"
cp "$work/dcgan/samples.png" "$out/dcgan_samples.png" 2>>"$log" || failed=1
step 120 "$dcgan" --data "$data" --limit 640 --steps 204 --sample-every 0 --resume "$work/dcgan/checkpoint.safetensors" \
  --out "$work/dcgan"

rm -rf "$work"
echo "gpu_check: $([ $failed -eq 0 ] && echo all steps passed || echo some steps FAILED), see $log"
exit $failed
