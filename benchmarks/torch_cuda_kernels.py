#!/usr/bin/env python3
"""PyTorch's CUDA twin of bench_cuda_kernels: the same GEMM and convolutions.

A 4096 x 4096 float32 GEMM with TF32 off and on, and the convolutions of
bench_cuda_kernels.cu (the DCGAN layers at batch 64 and 256, the U-Net's
3x3 layers at batch 64) forward, backward-data and backward-weight, through
torch.nn.functional.conv2d and torch.nn.grad (which call cuDNN). TF32 is
off for the convolutions as in genmodel's default; cudnn.benchmark is on
(a timed algorithm choice per shape), as bench_cuda_kernels sets
genmodel's set_cudnn_benchmark. Each figure is the median
of --iters device times from CUDA events, after --warmup runs. Prints one
JSON line per figure. Needs a GPU: run it on the machine of the issue-6
benchmarks, next to build/benchmarks/bench_cuda_kernels.
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

SHAPES = [  # name, c, h, w, o, k, stride, pad (as kShapes in bench_cuda_kernels.cu)
    ("dcgan.conv1", 1, 28, 28, 64, 4, 2, 1),
    ("dcgan.conv2", 64, 14, 14, 128, 4, 2, 1),
    ("unet.32x32", 32, 32, 32, 32, 3, 1, 1),
    ("unet.16x16", 64, 16, 16, 64, 3, 1, 1),
    ("unet.8x8", 128, 8, 8, 128, 3, 1, 1),
]


def device_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_cuda_kernels.py: no CUDA device")
    dev = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name(0)

    n = 4096
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        ms = device_ms(lambda: torch.mm(a, b), args.warmup, args.iters)
        print(json.dumps({"what": "gemm", "n": n, "tf32": tf32, "median_ms": round(ms, 4),
                          "tflops": round(2 * n**3 / ms / 1e9, 2), "gpu": gpu, "torch": torch.__version__}))
    torch.backends.cuda.matmul.allow_tf32 = False

    for name, c, h, w, o, k, stride, pad in SHAPES:
        for batch in (64, 256):
            if batch == 256 and not name.startswith("dcgan"):
                continue
            x = torch.randn(batch, c, h, w, device=dev)
            weight = torch.randn(o, c, k, k, device=dev)
            y = F.conv2d(x, weight, stride=stride, padding=pad)
            dy = torch.randn_like(y)
            runs = {
                "forward": lambda: F.conv2d(x, weight, stride=stride, padding=pad),
                "backward-data": lambda: torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=stride, padding=pad),
                "backward-weight": lambda: torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=stride, padding=pad),
            }
            for direction, fn in runs.items():
                ms = device_ms(fn, args.warmup, args.iters)
                print(json.dumps({"what": "conv", "shape": name, "batch": batch, "direction": direction,
                                  "median_us": round(ms * 1e3, 2), "gpu": gpu}))


if __name__ == "__main__":
    main()
