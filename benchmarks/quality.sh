#!/usr/bin/env bash
# Reproduces the README's GAN quality figures: trains each model named on the
# command line for the same wall time on this machine, writes N samples, and
# scores them with examples/evaluate (FID-FMNIST against the 10000 test
# images, the classifier score, and for cgan the label accuracy).
#
#   benchmarks/gan_quality.sh dcgan torch_dcgan cgan wgan_gp mlp_gan
#
# Models: mlp_gan, dcgan, cgan, wgan_gp (the C++ trainers in BUILD/examples)
# and torch_dcgan, torch_cgan, ... (benchmarks/torch_gan.py, the same model in
# PyTorch; needs Debian's python3-torch). Environment: BUILD (default
# build), SECONDS_PER_RUN (600), SAMPLES (10000), THREADS (2), OUT
# (runs/quality). The classifier is trained first when OUT has none. Each
# run's evaluation is OUT/<model>/eval.json; a summary line per model ends the
# output.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
seconds=${SECONDS_PER_RUN:-600}
samples=${SAMPLES:-10000}
threads=${THREADS:-2}
out=${OUT:-$root/runs/quality}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
(($# > 0)) || { echo "usage: $0 MODEL... (mlp_gan dcgan cgan wgan_gp torch_dcgan ...)" >&2; exit 2; }

classifier=$out/classifier/classifier.safetensors
if [[ ! -f $classifier ]]; then
  echo "== training the evaluator's classifier"
  "$build/examples/classifier" --out "$out/classifier" --threads "$threads"
fi

for model in "$@"; do
  dir=$out/$model
  mkdir -p "$dir"
  echo "== $model: ${seconds} s on $threads threads ($(date -u +%FT%TZ))"
  case $model in
    torch_*)
      /usr/bin/python3 "$root/benchmarks/torch_gan.py" train --model "${model#torch_}" --seconds "$seconds" \
        --threads "$threads" --samples "$samples" --samples-out "$dir/samples.idx" --out "$dir" | tee "$dir/train.log" ;;
    *)
      "$build/examples/$model" --seconds "$seconds" --epochs 0 --threads "$threads" --out "$dir" \
        --samples "$samples" --samples-out "$dir/samples.idx" | tee "$dir/train.log" ;;
  esac
  "$build/examples/evaluate" --samples "$dir/samples.idx" --classifier "$classifier" --threads "$threads" \
    | tee "$dir/eval.json"
done

echo "== summary (FID-FMNIST: lower is better)"
for model in "$@"; do echo "$model $(cat "$out/$model/eval.json")"; done
