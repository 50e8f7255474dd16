#!/usr/bin/env bash
# Every test: installs missing Debian packages, configures ./build (Release,
# tests + examples + benchmarks, so everything compiles), builds, runs CTest,
# then checks that genmodel works from another CMake project (installed and
# found with find_package, and vendored with add_subdirectory).
# Exits non-zero on any failure. Environment knobs: JOBS=N (parallelism,
# default nproc), GENMODEL_BUILD_DIR (default build), GENMODEL_CMAKE_ARGS
# (extra CMake arguments, appended last so they win).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}
build=${GENMODEL_BUILD_DIR:-build}
start=$SECONDS
phase_start=$SECONDS
# shellcheck disable=SC2317  # called by the EXIT trap
report_time() { echo "test.sh: total time $((SECONDS - start)) s"; }
trap report_time EXIT
phase() { echo "== $1 ($((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }

scripts/deps.sh
# The safetensors interoperability test reads and writes files with Python's
# safetensors package (PyPI); without it that test skips with a warning.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import safetensors, numpy' 2>/dev/null; then
  python3 -m pip install --quiet safetensors numpy 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages safetensors numpy 2>/dev/null ||
    echo "test.sh: could not install Python's safetensors; its interop test will skip"
fi
phase "dependencies checked"

# shellcheck disable=SC2086  # GENMODEL_CMAKE_ARGS is a word list on purpose
cmake -S . -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGENMODEL_BUILD_TESTS=ON \
  -DGENMODEL_BUILD_EXAMPLES=ON \
  -DGENMODEL_BUILD_BENCHMARKS=ON \
  ${GENMODEL_CMAKE_ARGS:-}
phase "configured"

cmake --build "$build" -j "$jobs"
phase "built"

status=0
ctest_log=$(mktemp)
# Parallel tests each run several OpenMP threads: sleeping waits keep them
# from spinning against each other.
if OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} ctest --test-dir "$build" --output-on-failure -j "$jobs" 2>&1 | tee "$ctest_log"; then
  echo "PASS ctest"
else
  echo "FAIL ctest"
  status=1
fi
phase "ctest done"
# "N% tests passed, F tests failed out of T" -> passed and failed counts.
summary=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$ctest_log" | tail -n 1)
failed=$(echo "$summary" | awk '{print $1}')
total=$(echo "$summary" | awk '{print $6}')
failed=${failed:-1}
total=${total:-1}
# Tests CTest skipped (the CUDA device tests without a GPU) are not passes.
skipped=$(grep -Ec '\(Skipped\)$' "$ctest_log" || true)

consumer_failed=0
if JOBS=$jobs scripts/consumer_check.sh "$build"; then :; else status=1; consumer_failed=2; fi
phase "consumer checks done"

if ((status == 0)); then
  echo "test.sh: ALL PASSED"
else
  echo "test.sh: FAILED (see the FAIL lines above)"
fi
rm -f "$ctest_log"
trap - EXIT
report_time
# The closing line CI reads: CTest's tests plus the two consumer builds.
echo "tests: $((total - failed - skipped + 2 - consumer_failed)) passed, $((failed + consumer_failed)) failed, $skipped skipped"
exit $status
