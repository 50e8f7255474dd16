#!/usr/bin/env bash
# Reproduces the README's quality figures: trains each model named on the
# command line for the same wall time on this machine, writes samples, and
# scores them with examples/evaluate (FID-FMNIST against the 10000 test
# images, the classifier score, and for conditional models the label
# accuracy).
#
#   benchmarks/quality.sh dcgan torch_dcgan cgan wgan_gp mlp_gan
#   PARALLEL=1 THREADS=1 benchmarks/quality.sh vae torch_vae   # side by side, one core each
#
# Models: the C++ trainers mlp_gan, dcgan, cgan, wgan_gp, vae, cvae, ddpm
# (unconditional) and ddpm_cond (class-conditional, guidance GUIDANCE) in
# BUILD/examples, and torch_<model> (benchmarks/torch_gan.py, torch_vae.py,
# torch_ddpm.py: the same model in PyTorch; Debian's python3-torch). DDPM
# models write DDIM-SAMPLE_STEPS samples (SAMPLES of them) and then
# DDPM_SAMPLES samples of full ancestral sampling (samples_ddpm.idx).
# Environment: BUILD (default build), SECONDS_PER_RUN (600), SAMPLES
# (10000), DDPM_SAMPLES (0: none), SAMPLE_STEPS (50), GUIDANCE (3),
# CHANNELS (the DDPM U-Net's widths, e.g. 16,32,64; default the trainers'
# 32,64,128), THREADS (2), PARALLEL (0; 1: train all models at once, then
# evaluate), OUT
# (runs/quality). The classifier is trained first when OUT has none. Each
# sample file's evaluation is OUT/<model>/<file>.json; a summary line per
# file ends the output.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
seconds=${SECONDS_PER_RUN:-600}
samples=${SAMPLES:-10000}
ddpm_samples=${DDPM_SAMPLES:-0}
sample_steps=${SAMPLE_STEPS:-50}
guidance=${GUIDANCE:-3}
channels=${CHANNELS:-}
threads=${THREADS:-2}
out=${OUT:-$root/runs/quality}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
(($# > 0)) || { echo "usage: $0 MODEL... (mlp_gan dcgan cgan wgan_gp vae cvae ddpm ddpm_cond torch_dcgan ...)" >&2; exit 2; }

classifier=$out/classifier/classifier.safetensors
if [[ ! -f $classifier ]]; then
  echo "== training the evaluator's classifier"
  "$build/examples/classifier" --out "$out/classifier" --threads "$threads"
fi

# train MODEL: trains it into OUT/MODEL and writes its sample files there.
train() {
  local model=$1 dir=$out/$1 py=$root/benchmarks
  local common=(--threads "$threads" --samples "$samples" --samples-out "$dir/samples.idx")
  local ddpm_args=(--sample-steps "$sample_steps")
  local cond=()
  case $model in *_cond | *cvae) cond=(--conditional) ;; esac
  [[ $model == *ddpm_cond ]] && ddpm_args+=(--guidance "$guidance")
  local widths=()
  [[ -n $channels ]] && widths=(--channels "$channels")
  mkdir -p "$dir"
  echo "== $model: ${seconds} s on $threads threads ($(date -u +%FT%TZ))"
  case $model in
    torch_vae | torch_cvae)
      /usr/bin/python3 "$py/torch_vae.py" train "${cond[@]}" --seconds "$seconds" "${common[@]}" ;;
    torch_ddpm*)
      /usr/bin/python3 "$py/torch_ddpm.py" train "${cond[@]}" "${ddpm_args[@]}" "${widths[@]}" --seconds "$seconds" \
        "${common[@]}" --save "$dir/ema.pt"
      if ((ddpm_samples > 0)); then
        /usr/bin/python3 "$py/torch_ddpm.py" sample --load "$dir/ema.pt" "${ddpm_args[@]}" --sampler ddpm \
          --threads "$threads" --samples "$ddpm_samples" --samples-out "$dir/samples_ddpm.idx"
      fi ;;
    torch_*)
      /usr/bin/python3 "$py/torch_gan.py" train --model "${model#torch_}" --seconds "$seconds" "${common[@]}" \
        --out "$dir" ;;
    ddpm*)
      "$build/examples/ddpm" "${cond[@]}" "${ddpm_args[@]}" "${widths[@]}" --seconds "$seconds" --out "$dir" \
        "${common[@]}"
      if ((ddpm_samples > 0)); then
        "$build/examples/ddpm" "${cond[@]}" "${ddpm_args[@]}" "${widths[@]}" --resume "$dir/checkpoint.safetensors" \
          --sample-only --sampler ddpm --out "$dir" --threads "$threads" --samples "$ddpm_samples" \
          --samples-out "$dir/samples_ddpm.idx"
      fi ;;
    *)
      "$build/examples/$model" --seconds "$seconds" --epochs 0 --out "$dir" "${common[@]}" ;;
  esac > "$dir/train.log" 2>&1
  tail -n 3 "$dir/train.log"
}

if [[ ${PARALLEL:-0} == 1 ]]; then
  pids=()
  for model in "$@"; do train "$model" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
else
  for model in "$@"; do train "$model"; done
fi

for model in "$@"; do
  for file in "$out/$model"/samples*.idx; do
    "$build/examples/evaluate" --samples "$file" --classifier "$classifier" --threads "$threads" > "${file%.idx}.json"
  done
done

echo "== summary (FID-FMNIST: lower is better)"
for model in "$@"; do
  for file in "$out/$model"/samples*.json; do echo "$model $(basename "$file" .json) $(cat "$file")"; done
done
