#!/usr/bin/env bash
# The main job: installs missing Debian packages, builds the example trainer
# fit_mlp (Release) and runs it. Arguments go to fit_mlp:
#   scripts/demo.sh --help
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}

"$root/scripts/deps.sh"

if [[ ! -f "$root/examples/CMakeLists.txt" ]]; then
  echo "demo.sh: examples/CMakeLists.txt does not exist yet, so there is no fit_mlp to build" >&2
  exit 1
fi

# Tests and benchmarks off here: only the example is needed (scripts/test.sh
# reconfigures the same build dir with everything on).
cmake -S "$root" -B "$root/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGENMODEL_BUILD_EXAMPLES=ON \
  -DGENMODEL_BUILD_TESTS=OFF \
  -DGENMODEL_BUILD_BENCHMARKS=OFF
cmake --build "$root/build" --target fit_mlp -j "$jobs"

exec "$root/build/examples/fit_mlp" "$@"
