#!/usr/bin/env python3
"""What genmodel's PyTorch twins share (torch_gan.py, torch_vae.py, torch_ddpm.py).

Not a script: the twins import it (``from torch_common import ...``) from the
directory they live in. It holds

* Fashion-MNIST from Debian's ``dataset-fashion-mnist`` gzipped IDX files
  (``read_idx_gz``, ``load_fashion_mnist``): the training or test split,
  scaled as genmodel's data::FashionMNIST does (``unit``: p / 255;
  ``symmetric``: p / 127.5 - 1), optionally padded on every side with the
  background value (0 for unit, -1 for symmetric), as its ``pad`` option;
* the sample files the C++ evaluator reads: uncompressed IDX3 ubyte images
  (``write_idx3``: magic 0x00000803, big-endian N, H, W, then the bytes) and
  IDX1 ubyte labels (``write_idx1``: magic 0x00000801, big-endian N), and
  ``to_pixels`` (float images -> uint8 pixels, rounded and clamped);
* an optional PNG grid of samples (``write_grid_png``, needs Pillow);
* the endless shuffled batch stream of the training loops
  (``shuffled_batches``: reshuffled every epoch, the last incomplete batch of
  an epoch dropped);
* threads and configuration (``set_threads``, ``_loaded_openblas``,
  ``print_config``): torch.set_num_threads sets the OpenMP threads (oneDNN
  convolutions, elementwise ops); Debian's torch does its matrix products
  through the system BLAS (OpenBLAS), whose own thread count torch does not
  touch, so set_threads also calls openblas_set_num_threads when an OpenBLAS
  is loaded;
* the command-line pieces the twins share (``make_parser``,
  ``add_bench_args``, ``add_limit_args``, ``add_train_args``,
  ``require_at_least_one``);
* the ``bench`` subcommands' scaffolding: the model and thread lists
  (``bench_grid``), a cycling pool of random batches (``random_batches``),
  one JSON record per (model, threads) (``bench_record``, ``log_median``;
  ``bench_configs`` times them all in this process) and the table and JSON
  lines at the end (``print_bench_results``);
* the ``train`` subcommands' loop (``train_loop``: the shuffled batch stream,
  the --seconds / --steps limits and the progress lines), sampling in chunks
  with labels 0..9 cycling (``sample_in_chunks``) and the --out PNG
  (``save_grid``);
* step timing (``time_steps``, ``percentiles``) and resident-set readings
  (``rss_kib``, ``peak_rss_kib``, ``reset_peak_rss``): Linux's VmRSS and VmHWM
  from /proc/self/status, VmHWM reset by writing 5 to /proc/self/clear_refs;
  where that cannot be done, the peak falls back to resource.getrusage's
  ru_maxrss, which only grows over the process's life.

Requirements: PyTorch (Debian 12's ``python3-torch`` 1.13, run with
``/usr/bin/python3``, or ``torch`` from PyPI) and numpy; Pillow optional.
"""

import argparse
import ctypes
import gzip
import json
import os
import resource
import struct
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

try:
    import numpy as np
    import torch
except ImportError as e:  # e.g. a pyenv python3 on PATH, while Debian's torch is in /usr/bin/python3
    sys.exit(f"{sys.executable}: {e}; run with /usr/bin/python3 after "
             "`apt-get install python3-torch`, or `pip install torch numpy`")

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
N_CLASSES = 10

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


# --------------------------------------------------------------------------
# Fashion-MNIST and IDX files
# --------------------------------------------------------------------------

def read_idx_gz(path: str, magic: int, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX file (gzipped), checked against its magic number."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an IDX header")
    got = struct.unpack(">I", data[:4])[0]
    if got != magic:
        raise ValueError(f"{path}: magic 0x{got:08x} at byte 0, expected 0x{magic:08x}")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise ValueError(f"{path}: {len(data) - offset} bytes of data after the header, "
                         f"expected {int(np.prod(dims))} for dims {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_fashion_mnist(directory: str, split: str = "train", pixel_range: str = "symmetric",
                       pad: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 1, 28 + 2 pad, 28 + 2 pad) float32, labels (N,) int64) of a split.

    pixel_range "symmetric": p / 127.5 - 1 (in [-1, 1]); "unit": p / 255. The
    pad border holds the background value (-1 or 0), as data::FashionMNIST."""
    if split not in _SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(_SPLIT_FILES)}, got {split!r}")
    if pixel_range not in ("symmetric", "unit"):
        raise ValueError(f"pixel_range must be 'symmetric' or 'unit', got {pixel_range!r}")
    if pad < 0:
        raise ValueError(f"pad must be non-negative, got {pad}")
    image_file, label_file = _SPLIT_FILES[split]
    images = read_idx_gz(os.path.join(directory, image_file), 0x00000803, 3)
    labels = read_idx_gz(os.path.join(directory, label_file), 0x00000801, 1)
    if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    if pixel_range == "symmetric":
        scaled = images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    else:
        scaled = images.astype(np.float32) / np.float32(255.0)
    x = torch.from_numpy(scaled).unsqueeze(1)  # (N, 1, 28, 28)
    if pad > 0:
        background = -1.0 if pixel_range == "symmetric" else 0.0
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad), value=background)
    y = torch.from_numpy(labels.astype(np.int64))
    return x.contiguous(), y


def shuffled_batches(x: torch.Tensor, y: torch.Tensor, batch: int, gen: torch.Generator):
    """Endless (images, labels) batches, reshuffled every epoch; the last
    incomplete batch of an epoch is dropped. Also returns the epoch counter."""
    state = {"epoch": 0, "perm": torch.randperm(x.shape[0], generator=gen), "pos": 0}

    def next_batch():
        if state["pos"] + batch > x.shape[0]:
            state["epoch"] += 1
            state["perm"] = torch.randperm(x.shape[0], generator=gen)
            state["pos"] = 0
        idx = state["perm"][state["pos"]:state["pos"] + batch]
        state["pos"] += batch
        return x[idx], y[idx]
    return next_batch, state


def write_idx3(path: str, pixels: np.ndarray) -> None:
    n, h, w = pixels.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, n, h, w))
        f.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


def write_idx1(path: str, labels: np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, labels.shape[0]))
        f.write(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())


def to_pixels(x: torch.Tensor, pixel_range: str = "symmetric") -> np.ndarray:
    """(N, 1, H, W) floats -> (N, H, W) uint8: symmetric (in [-1, 1]):
    round((x + 1) * 127.5); unit (in [0, 1]): round(x * 255); clamped to 0..255."""
    scaled = (x + 1) * 127.5 if pixel_range == "symmetric" else x * 255.0
    return torch.round(scaled).clamp(0, 255).to(torch.uint8).squeeze(1).numpy()


def write_grid_png(path: str, pixels: np.ndarray, rows: int = 8, cols: int = 8) -> bool:
    try:
        from PIL import Image
    except ImportError:
        return False
    n, h, w = pixels.shape
    grid = np.zeros((rows * h, cols * w), dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = pixels[i]
    Image.fromarray(grid).save(path)  # uint8 2-D: mode "L"
    return True


def write_samples(path: str, pixels: np.ndarray, labels: Optional[np.ndarray]) -> None:
    """pixels as IDX3 at path (its directory created), labels (when given) as IDX1 at path.labels."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_idx3(path, pixels)
    print(f"wrote {len(pixels)} samples to {path}")
    if labels is not None:
        write_idx1(path + ".labels", labels)
        print(f"wrote their labels to {path}.labels")


def save_grid(directory: str, pixels: np.ndarray) -> None:
    """--out DIR: DIR/samples.png, a grid of the first 64 images (says so when Pillow is missing)."""
    os.makedirs(directory, exist_ok=True)
    png = os.path.join(directory, "samples.png")
    print(f"wrote {png}" if write_grid_png(png, pixels) else "Pillow not importable: no samples.png")


@torch.no_grad()
def sample_in_chunks(n: int, chunk: int, draw: Callable[[torch.Tensor], np.ndarray],
                     log: bool = False,
                     model: Optional[torch.nn.Module] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(pixels (n, 28, 28) uint8, labels (n,)) of n samples, labels 0..9 cycling, without
    autograd: draw(y) gives the pixels of the next up to `chunk` samples, y their labels; with
    log, a progress line after each chunk. A model given is in eval mode meanwhile, and in
    training mode after."""
    if model is not None:
        model.eval()
    labels = torch.arange(n) % N_CLASSES
    images = []
    t0 = time.perf_counter()
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        images.append(draw(labels[start:start + m]))
        if log:
            print(f"  sampled {start + m}/{n} ({time.perf_counter() - t0:.1f} s)", flush=True)
    if model is not None:
        model.train()
    pixels = np.concatenate(images) if images else np.zeros((0, 28, 28), np.uint8)
    return pixels, labels.numpy()


# --------------------------------------------------------------------------
# Threads and configuration.
# --------------------------------------------------------------------------

def _loaded_openblas():
    """The OpenBLAS library this process has loaded (Debian's torch uses the
    system libblas.so.3), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads  # raises AttributeError if absent
            return lib
        except (OSError, AttributeError):
            continue
    return None


def set_threads(t: int) -> None:
    torch.set_num_threads(t)
    lib = _loaded_openblas()
    if lib is not None:
        lib.openblas_set_num_threads(ctypes.c_int(t))


def print_config() -> None:
    print(f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    for line in torch.__config__.show().splitlines():
        line = line.rstrip()
        if not line:
            continue
        if "Build settings:" in line:
            keep = ("BLAS_INFO", "LAPACK_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP",
                    "USE_CUDA", "TORCH_VERSION")
            items = [s.strip() for s in line.split("Build settings:", 1)[1].split(",")]
            line = "  - Build settings (excerpt): " + ", ".join(
                s for s in items if s.split("=")[0] in keep)
        print(line)
    print(f"torch.backends.mkldnn.is_available(): {torch.backends.mkldnn.is_available()}")
    lib = _loaded_openblas()
    if lib is not None:
        lib.openblas_get_config.restype = ctypes.c_char_p
        print(f"runtime BLAS: {lib.openblas_get_config().decode()}")
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"os.cpu_count()={os.cpu_count()}")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Timing and memory
# --------------------------------------------------------------------------

def on_cuda() -> bool:
    """Whether bench runs on the GPU (--device cuda made it torch's default device)."""
    return torch.empty(0).is_cuda


def time_steps(step: Callable[[], object], count: int) -> List[float]:
    """Wall time of `count` calls of step(), in milliseconds each; on the GPU each call ends with
    a synchronize, so the time is the step's device time, as bench_cuda_steps measures it."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        step()
        if on_cuda():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def percentiles(times: List[float]) -> Tuple[float, float, float]:
    """(p25, median, p75) of a list of times."""
    p25, med, p75 = np.percentile(times, [25, 50, 75])
    return float(p25), float(med), float(p75)


def _status_kib(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # "VmRSS:   123456 kB"
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_kib() -> Optional[int]:
    """The current resident set (VmRSS) in KiB, or None off Linux."""
    return _status_kib("VmRSS")


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib() -> int:
    """The peak resident set in KiB: VmHWM (since the last reset_peak_rss), or ru_maxrss."""
    hwm = _status_kib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def make_parser(doc: str) -> Tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """A twin's argument parser (described by its docstring's first paragraph) and its subcommands."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser, parser.add_subparsers(dest="command", required=True)


def add_bench_args(p: argparse.ArgumentParser, models: str, warmup: int, steps: int) -> None:
    """bench's --models (default models), --threads, --batch, --warmup and --steps."""
    p.add_argument("--models", default=models)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: models and batches on the GPU (TF32 off, as in genmodel's default)")


def use_device(args: argparse.Namespace) -> None:
    """bench --device: cuda becomes torch's default device, with TF32 off for matmul and cuDNN."""
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # a timed algorithm per shape, as the genmodel benches set
        torch.set_default_device("cuda")


def add_limit_args(p: argparse.ArgumentParser) -> None:
    """train's --seconds and --steps."""
    p.add_argument("--seconds", type=float, default=600.0, help="wall-time limit of the training loop")
    p.add_argument("--steps", type=int, default=0, help="step limit (0: none)")


def add_train_args(p: argparse.ArgumentParser) -> None:
    """train's options after the model's own (torch_gan.py, torch_vae.py): the limits, --threads,
    --seed, --batch, --samples, --samples-out, --data, --out and --log-every."""
    add_limit_args(p)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--samples-out", default=None, metavar="FILE")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--out", default=None, metavar="DIR", help="also write DIR/samples.png (needs Pillow)")
    p.add_argument("--log-every", type=int, default=100)


def require_at_least_one(args: argparse.Namespace, names: Iterable[str]) -> None:
    """Exits with a message when one of the integer options `names` is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            sys.exit(f"--{name} must be at least 1")


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------

# A column of the bench table: title, alignment and width (as in "<6", ">9"), the record's key
# or a function of the record, and the value's precision (as in ".2f", or "").
Column = Tuple[str, str, Union[str, Callable[[Dict[str, object]], object]], str]


def bench_grid(args: argparse.Namespace, known: Iterable[str],
               check_threads: bool = True) -> Tuple[List[str], List[int]]:
    """bench's --models and --threads as lists; exits on a model not in `known` (a dict or a list
    of names) and, with check_threads, on an empty thread list or a count below 1."""
    models = [m for m in args.models.split(",") if m]
    threads = [int(t) for t in args.threads.split(",") if t]
    for m in models:
        if m not in known:
            sys.exit(f"unknown model {m!r}; choose from {', '.join(known)}")
    if check_threads and (not threads or min(threads) < 1):
        sys.exit("--threads must list thread counts of at least 1")
    return models, threads


def random_batches(batch: int, shape: Sequence[int], count: int, gen: torch.Generator,
                   pixel_range: str = "symmetric",
                   first: int = 0) -> Callable[[], Tuple[torch.Tensor, torch.Tensor]]:
    """A cycling source of `count` random (images (batch, *shape), labels (batch,) in 0..9)
    batches, all drawn from gen up front (a batch's images, then its labels): images U[0, 1)
    for pixel_range "unit", 2 U[0, 1) - 1 for "symmetric". The first call returns batch `first`."""
    if pixel_range not in ("symmetric", "unit"):
        raise ValueError(f"pixel_range must be 'symmetric' or 'unit', got {pixel_range!r}")
    pool = []
    for _ in range(count):
        # Drawn on the CPU generator's device, then moved to the default device (the GPU under
        # bench --device cuda).
        x = torch.rand(batch, *shape, generator=gen, device=gen.device)
        labels = torch.randint(0, N_CLASSES, (batch,), generator=gen, device=gen.device)
        target = torch.empty(0).device
        pool.append(((x * 2 - 1 if pixel_range == "symmetric" else x).to(target), labels.to(target)))
    i = first - 1

    def next_batch():
        nonlocal i
        i += 1
        return pool[i % count]
    return next_batch


def bench_configs(args: argparse.Namespace, models: List[str], threads: List[int],
                  make_step: Callable[[str], Callable[[], object]]) -> List[Dict[str, object]]:
    """bench_record of every (model, threads) pair, model by model: set_threads, torch.manual_seed(0),
    step = make_step(model) (builds the model and its batches), --warmup steps, then --steps timed
    ones; each configuration logged (log_median) as it ends."""
    results = []
    use_device(args)
    for m in models:
        for t in threads:
            set_threads(t)
            torch.manual_seed(0)
            step = make_step(m)
            time_steps(step, args.warmup)
            times = time_steps(step, args.steps)
            results.append(bench_record(m, t, args.batch, times))
            log_median(m, t, times)
    return results


def bench_record(model: str, threads: int, batch: int, times: List[float], **extra) -> Dict[str, object]:
    """The JSON record of one (model, threads) configuration: the median and interquartile range
    of its step times (ms, rounded to 3 decimals), the extra fields, then the torch version."""
    p25, med, p75 = percentiles(times)
    return {"model": model, "threads": threads, "batch": batch,
            "median_ms": round(med, 3), "p25_ms": round(p25, 3), "p75_ms": round(p75, 3),
            **extra, "torch": torch.__version__}


def log_median(model: str, threads: int, times: List[float], note: str = "") -> None:
    """The progress line of one configuration (its median step time, then note), on stderr."""
    print(f"  {model} threads={threads}: median {percentiles(times)[1]:.2f} ms{note}",
          file=sys.stderr, flush=True)


def print_bench_results(args: argparse.Namespace, note: str, results: List[Dict[str, object]],
                        model_width: int, rate: Tuple[str, str] = (">8", ".0f"),
                        extra: Sequence[Column] = (), footer: Optional[str] = None) -> None:
    """bench's summary on stdout: a title (--batch, --warmup, --steps, then note), the table
    (model, threads, median / p25 / p75 ms, img/s at the median with the `rate` width and
    precision, then the extra columns), the footer line when given, a blank line and one JSON
    line per record."""
    columns: List[Column] = [
        ("model", f"<{model_width}", "model", ""), ("threads", ">7", "threads", ""),
        ("median ms", ">10", "median_ms", ".2f"), ("p25 ms", ">9", "p25_ms", ".2f"),
        ("p75 ms", ">9", "p75_ms", ".2f"),
        ("img/s", rate[0], lambda r: r["batch"] / r["median_ms"] * 1e3, rate[1]), *extra]
    print(f"\nper-step wall time, batch {args.batch}, {args.warmup} warm-up + {args.steps} timed steps "
          + note)
    print(" ".join(format(title, width) for title, width, _, _ in columns))
    for r in results:
        print(" ".join(format(value(r) if callable(value) else r[value], width + precision)
                       for _, width, value, precision in columns))
    if footer is not None:
        print(footer)
    print()
    for r in results:
        print(json.dumps(r))


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def train_loop(args: argparse.Namespace, x: torch.Tensor, y: torch.Tensor,
               step: Callable[[Callable[[], Tuple[torch.Tensor, torch.Tensor]]], object],
               progress: Callable[[object, float], str]) -> Tuple[int, float, object]:
    """train's loop: out = step(next_batch) on shuffled (x, y) batches of --batch (shuffled by a
    Generator seeded --seed) until --seconds of wall time or --steps steps (0: no step limit).
    After the first step and every --log-every steps it prints "step N epoch E T s  " and
    progress(out, rate), rate the images per second since the last such line.
    Returns (the steps done, the loop's seconds, the last out or None)."""
    next_batch, loader = shuffled_batches(x, y, args.batch, torch.Generator().manual_seed(args.seed))
    steps, out = 0, None
    t0 = time.perf_counter()
    t_last, step_last = t0, 0
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= args.seconds or (args.steps and steps >= args.steps):
            break
        out = step(next_batch)
        steps += 1
        if steps % args.log_every == 0 or steps == 1:
            now = time.perf_counter()
            rate = (steps - step_last) * args.batch / max(now - t_last, 1e-9)
            t_last, step_last = now, steps
            print(f"step {steps:6d} epoch {loader['epoch']:3d} {now - t0:7.1f}s  {progress(out, rate)}",
                  flush=True)
    return steps, time.perf_counter() - t0, out
