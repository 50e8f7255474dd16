#!/usr/bin/env bash
# scripts/gpu_bundle.sh: builds the CUDA tests, GPU benchmarks and two GPU
# trainers into one folder that runs on a GPU machine which has the NVIDIA
# driver and CUDA 13's runtime, cuBLAS and cuDNN 9 (a PyTorch install brings
# them) but none of this project's build dependencies. Run it here, where
# scripts/deps.sh has installed them; copy the folder over and run its
# gpu_check.sh there (see that script).
#
#   scripts/gpu_bundle.sh [DIR]    # default DIR: .gpu-bundle (git-ignored)
#
# The build (in build-gpu-bundle/) leaves OpenBLAS and oneDNN out, so the
# CPU references of the parity tests run on Eigen alone and the folder stays
# small; the shared libraries the binaries need beyond the C/C++ runtime and
# NVIDIA's go into DIR/lib. A 1000 + 200 image slice of Fashion-MNIST goes
# into DIR/data for the trainer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.gpu-bundle}
build=build-gpu-bundle
targets=(genmodel_cuda_tests bench_cuda_kernels bench_cuda_steps dcgan ddpm)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGENMODEL_WITH_CUDA=ON -DGENMODEL_USE_BLAS=OFF \
  -DGENMODEL_USE_DNNL=OFF -DGENMODEL_BUILD_TESTS=ON -DGENMODEL_BUILD_EXAMPLES=ON -DGENMODEL_BUILD_BENCHMARKS=ON
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]}"

rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib" "$dest/data"
for t in "${targets[@]}"; do
  cp "$(find "$build" -type f -name "$t" -perm -u+x | head -1)" "$dest/bin/"
done
# Everything ldd resolves except the C runtime, libstdc++/libgcc and the
# NVIDIA libraries, which the GPU machine has in versions matching its driver.
ldd "$dest"/bin/* | awk '/=> \// {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt|libcudnn[^/]*)\.so' |
  xargs -r cp -L -t "$dest/lib/"

python3 - "$dest/data" <<'EOF'
import gzip, struct, sys
src, dst = "/usr/share/datasets/fashion-mnist", sys.argv[1]
for split, n in (("train", 1000), ("t10k", 200)):
    for kind, item in (("images-idx3", 28 * 28), ("labels-idx1", 1)):
        name = f"{split}-{kind}-ubyte.gz"
        raw = gzip.open(f"{src}/{name}").read()
        dims = raw[3]
        head = bytearray(raw[:4 + 4 * dims])
        struct.pack_into(">I", head, 4, n)
        with gzip.open(f"{dst}/{name}", "wb") as f:
            f.write(bytes(head) + raw[4 + 4 * dims:4 + 4 * dims + n * item])
EOF

cp scripts/gpu_check.sh "$dest/"
mkdir -p "$dest/benchmarks"
cp benchmarks/torch_*.py "$dest/benchmarks/"
du -sh "$dest"
