#!/usr/bin/env bash
# The main job: installs missing Debian packages (Fashion-MNIST among them),
# builds the DCGAN trainer (Release) and trains it on Fashion-MNIST for three
# minutes, then prints the path of the sample grid it wrote
# (runs/dcgan/samples.png). Arguments go to the trainer and override the
# defaults:
#   scripts/demo.sh --help
#   scripts/demo.sh --seconds 600 --out runs/dcgan-10min
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}

"$root/scripts/deps.sh"

# Tests and benchmarks off here: only the trainer is needed (scripts/test.sh
# reconfigures the same build dir with everything on).
cmake -S "$root" -B "$root/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGENMODEL_BUILD_EXAMPLES=ON \
  -DGENMODEL_BUILD_TESTS=OFF \
  -DGENMODEL_BUILD_BENCHMARKS=OFF
cmake --build "$root/build" --target dcgan -j "$jobs"

# OpenMP threads sleep instead of spinning while they wait: on a shared
# machine spinning threads make two-thread runs several times slower.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec "$root/build/examples/dcgan" --seconds 180 "$@"
