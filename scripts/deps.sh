#!/usr/bin/env bash
# Installs the Debian 12 packages genmodel's build, tests, examples and
# benchmarks need, and only those that are missing: when everything is there
# it changes nothing and needs no network or root. Uses sudo only when not
# run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
  libeigen3-dev                      # CPU compute (required)
  libopenblas-dev                    # optional GEMM backend (GENMODEL_USE_BLAS)
  catch2                             # tests (Catch2 v2)
  libbenchmark-dev                   # benchmarks/
  libdnnl-dev                        # float CPU convolutions through oneDNN (optional)
  zlib1g-dev                         # gzipped IDX data files
  libstb-dev                         # PNG image grids
  nlohmann-json3-dev                 # safetensors headers
  libcli11-dev                       # example programs' flags
  xtensor-dev                        # xtensor interop
  dataset-fashion-mnist              # default data of the examples
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps: missing packages (${missing[*]}) and not root, and sudo is not available" >&2
  exit 1
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
