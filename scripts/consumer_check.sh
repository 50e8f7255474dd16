#!/usr/bin/env bash
# Checks that genmodel works from another CMake project, both ways:
#   1. install: `cmake --install BUILD_DIR --prefix TMP`, then configure, build
#      and run tests/consumer against it (find_package(genmodel CONFIG)).
#   2. add_subdirectory: configure, build and run tests/consumer/subdir.
# Usage: scripts/consumer_check.sh [BUILD_DIR]   (default: build, must be
# configured already). Prints one PASS/FAIL line per check; exits non-zero if
# any failed. Called by scripts/test.sh.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || { echo "consumer: no build dir ${1:-build}" >&2; exit 1; }
jobs=${JOBS:-$(nproc)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/genmodel-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Same compiler and build type as the main build.
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
cfg=(-DCMAKE_BUILD_TYPE=Release ${cxx:+-DCMAKE_CXX_COMPILER=$cxx})

failed=0
check() {  # check NAME LOGFILE CMD...
  local name=$1 log=$2; shift 2
  if "$@" >"$log" 2>&1; then
    return 0
  else
    echo "---- $name: '$*' failed, its output:"
    cat "$log"
    return 1
  fi
}

# 1. install + find_package
prefix=$tmp/prefix
if check "install" "$tmp/install.log" cmake --install "$build" --prefix "$prefix" &&
   check "install" "$tmp/configure.log" cmake -S "$root/tests/consumer" -B "$tmp/consumer" \
     "${cfg[@]}" -DCMAKE_PREFIX_PATH="$prefix" &&
   check "install" "$tmp/build.log" cmake --build "$tmp/consumer" -j "$jobs" &&
   check "install" "$tmp/run.log" "$tmp/consumer/genmodel_consumer"; then
  echo "PASS consumer (install + find_package): $(cat "$tmp/run.log")"
else
  echo "FAIL consumer (install + find_package)"
  failed=1
fi

# 2. add_subdirectory
if check "subdir" "$tmp/sub-configure.log" cmake -S "$root/tests/consumer/subdir" \
     -B "$tmp/consumer-subdir" "${cfg[@]}" &&
   check "subdir" "$tmp/sub-build.log" cmake --build "$tmp/consumer-subdir" -j "$jobs" &&
   check "subdir" "$tmp/sub-run.log" "$tmp/consumer-subdir/genmodel_consumer"; then
  echo "PASS consumer (add_subdirectory): $(cat "$tmp/sub-run.log")"
else
  echo "FAIL consumer (add_subdirectory)"
  failed=1
fi

exit $failed
