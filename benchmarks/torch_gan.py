#!/usr/bin/env python3
"""PyTorch twin of genmodel's C++ GAN trainers, for speed and quality comparisons.

The script builds the same four GANs as the C++ side, layer for layer, and
either times one training step of each (``bench``) or trains one of them on
Fashion-MNIST and writes generated samples as an IDX file (``train``), which
the C++ evaluator can score exactly like the C++ trainers' samples.

Requirements: PyTorch (Debian 12's ``python3-torch`` 1.13, run with
``/usr/bin/python3``, or ``torch`` from PyPI) and numpy. Pillow is optional
(only for ``--out DIR``'s ``samples.png``). The data are Debian's
``dataset-fashion-mnist`` package (``dpkg -L dataset-fashion-mnist``), read
directly from its gzipped IDX files.

Models (z has 100 dimensions; images are 1x28x28 in [-1, 1], a Fashion-MNIST
pixel p becomes p / 127.5 - 1; PyTorch's default layer arguments unless
stated):

mlp
    G: Linear(100,256) LeakyReLU(0.2) Linear(256,512) LeakyReLU(0.2)
       Linear(512,784) Tanh, reshaped to (1,28,28).
    D: Flatten Linear(784,512) LeakyReLU(0.2) Linear(512,256) LeakyReLU(0.2)
       Linear(256,1).
    PyTorch default init. Non-saturating loss, Adam(2e-4, betas (0.5, 0.999)).
dcgan
    G: Linear(100,6272,bias=False) BatchNorm1d(6272) ReLU view(128,7,7)
       ConvTranspose2d(128,64,4,2,1,bias=False) BatchNorm2d(64) ReLU
       ConvTranspose2d(64,1,4,2,1) Tanh.
    D: Conv2d(1,64,4,2,1) LeakyReLU(0.2) Conv2d(64,128,4,2,1,bias=False)
       BatchNorm2d(128) LeakyReLU(0.2) Flatten Linear(6272,1).
    DCGAN init: Conv/ConvTranspose/Linear/Embedding weights N(0, 0.02),
    biases 0, BatchNorm weight N(1, 0.02) and bias 0.
    Non-saturating loss, Adam(2e-4, betas (0.5, 0.999)).
wgan_gp
    G: as dcgan. Critic: the dcgan D without BatchNorm (its second Conv2d
    has a bias). DCGAN init.
    Critic loss: mean(D(fake)) - mean(D(real))
                 + 10 * mean((||grad_xhat D(xhat)||_2 - 1)^2),
    xhat = a*real + (1-a)*fake, a ~ U[0,1) per sample (second derivatives
    through torch.autograd.grad(create_graph=True)). G loss: -mean(D(G(z))).
    5 critic steps per generator step, each on a fresh real batch and fresh z.
    Adam(1e-4, betas (0.0, 0.9)) for both.
cgan (10 classes)
    G: concat(z, Embedding(10,50)(y)) -> the dcgan G with Linear(150,6272,bias=False).
    D: projection discriminator. phi(x) = the dcgan D up to Flatten (6272
       features); out = Linear(6272,1)(phi) + sum(Embedding(10,6272)(y) * phi, 1).
    DCGAN init (embeddings included). Non-saturating loss,
    Adam(2e-4, betas (0.5, 0.999)). Fake samples use the real batch's labels.

Non-saturating loss (mlp, dcgan, cgan), one iteration = one "step":
    fake = G(z)                                     (one z batch per step)
    D step: BCEWithLogits(D(x), 1) + BCEWithLogits(D(fake.detach()), 0)
    G step: BCEWithLogits(D(fake), 1), with D already updated.
For wgan_gp one step is 5 critic steps followed by 1 generator step, which is
what the C++ trainer calls one step.

Usage:
    # time one training step of each model, at 1 and 2 threads, batch 64
    /usr/bin/python3 benchmarks/torch_gan.py bench \\
        --models mlp,dcgan,cgan,wgan_gp --threads 1,2 --batch 64 --warmup 5 --steps 30

    # train dcgan for 10 minutes on 2 threads, then write 10000 samples
    /usr/bin/python3 benchmarks/torch_gan.py train --model dcgan --seconds 600 \\
        --threads 2 --seed 0 --samples 10000 --samples-out runs/torch_dcgan.idx3-ubyte \\
        --out runs/torch_dcgan

``bench`` prints a table and one JSON line per (model, threads), with the
median and interquartile range of the per-step wall time. ``train`` prints
progress every ~100 steps and a JSON summary line at the end; its samples are
an uncompressed IDX3 ubyte file (magic 0x00000803, big-endian N, 28, 28,
pixel = round((x + 1) * 127.5) clamped to 0..255); for cgan the labels used
(0..9 cycling) are written as an IDX1 ubyte file at FILE.labels.

Threads: torch.set_num_threads sets the OpenMP threads (oneDNN convolutions,
elementwise ops). Debian's torch does its matrix products through the system
BLAS (OpenBLAS), whose own thread count torch does not touch, so the script
also calls openblas_set_num_threads when an OpenBLAS is loaded. On a machine
whose cores are busy with other work, OMP_WAIT_POLICY=passive avoids the
OpenMP spin-waiting that can make 2-thread runs slower than 1-thread ones.
"""

import argparse
import contextlib
import ctypes
import gzip
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

try:
    import numpy as np
    import torch
except ImportError as e:  # e.g. a pyenv python3 on PATH, while Debian's torch is in /usr/bin/python3
    sys.exit(f"{sys.executable}: {e}; run with /usr/bin/python3 after "
             "`apt-get install python3-torch`, or `pip install torch numpy`")
import torch.nn as nn
import torch.nn.functional as F

Z_DIM = 100
N_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


# --------------------------------------------------------------------------
# Models: one small function per model, each returning (G, D).
# --------------------------------------------------------------------------

def dcgan_init(m: nn.Module) -> None:
    """The DCGAN paper's initialisation, applied module by module."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def dcgan_generator(in_dim: int = Z_DIM) -> nn.Sequential:
    # (N, in_dim) -> (N, 1, 28, 28)
    return nn.Sequential(
        nn.Linear(in_dim, 128 * 7 * 7, bias=False),
        nn.BatchNorm1d(128 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),                                # (N, 128, 7, 7)
        nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False),  # (N, 64, 14, 14)
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),           # (N, 1, 28, 28)
        nn.Tanh(),
    )


def dcgan_trunk(batchnorm: bool = True) -> nn.Sequential:
    # (N, 1, 28, 28) -> (N, 6272) features
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, stride=2, padding=1),                    # (N, 64, 14, 14)
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=not batchnorm),  # (N, 128, 7, 7)
        *([nn.BatchNorm2d(128)] if batchnorm else []),
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                                # (N, 6272)
    )


def mlp_gan() -> Tuple[nn.Module, nn.Module]:
    G = nn.Sequential(
        nn.Linear(Z_DIM, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 784), nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )
    D = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )
    return G, D  # PyTorch default init


def dcgan_pair(batchnorm: bool) -> Tuple[nn.Module, nn.Module]:
    """The DCGAN generator and a discriminator (with batch norm) or critic (without)."""
    G = dcgan_generator()
    D = nn.Sequential(*dcgan_trunk(batchnorm=batchnorm), nn.Linear(128 * 7 * 7, 1))
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return G, D


def dcgan() -> Tuple[nn.Module, nn.Module]:
    return dcgan_pair(batchnorm=True)


def wgan_gp() -> Tuple[nn.Module, nn.Module]:
    return dcgan_pair(batchnorm=False)


class ConditionalGenerator(nn.Module):
    """G(z, y) = dcgan G body applied to concat(z, Embedding(10, 50)(y))."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(N_CLASSES, 50)
        self.net = dcgan_generator(in_dim=Z_DIM + 50)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(y)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = Linear(phi(x)) + <Embedding(y), phi(x)>, phi = dcgan D trunk."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = dcgan_trunk(batchnorm=True)
        self.linear = nn.Linear(128 * 7 * 7, 1)
        self.embed = nn.Embedding(N_CLASSES, 128 * 7 * 7)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.trunk(x)                                          # (N, 6272)
        return self.linear(phi) + (self.embed(y) * phi).sum(dim=1, keepdim=True)


def cgan() -> Tuple[nn.Module, nn.Module]:
    G, D = ConditionalGenerator(), ProjectionDiscriminator()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return G, D


@dataclass(frozen=True)
class Spec:
    build: Callable[[], Tuple[nn.Module, nn.Module]]
    loss: str                      # "nonsaturating" or "wgan_gp"
    lr: float
    betas: Tuple[float, float]
    n_critic: int = 1
    conditional: bool = False


MODELS: Dict[str, Spec] = {
    "mlp": Spec(mlp_gan, "nonsaturating", 2e-4, (0.5, 0.999)),
    "dcgan": Spec(dcgan, "nonsaturating", 2e-4, (0.5, 0.999)),
    "cgan": Spec(cgan, "nonsaturating", 2e-4, (0.5, 0.999), conditional=True),
    "wgan_gp": Spec(wgan_gp, "wgan_gp", 1e-4, (0.0, 0.9), n_critic=5),
}


# --------------------------------------------------------------------------
# One training step.
# --------------------------------------------------------------------------

class GAN:
    """G, D, their optimizers, and one training step of the model's loss."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = MODELS[name]
        self.G, self.D = self.spec.build()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=self.spec.lr, betas=self.spec.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.spec.lr, betas=self.spec.betas)

    # G and D called the same way for conditional and unconditional models;
    # D's output is flattened to (N,).
    def generate(self, z: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        return self.G(z, y) if self.spec.conditional else self.G(z)

    def critic(self, x: torch.Tensor, y: Optional[torch.Tensor]) -> torch.Tensor:
        return (self.D(x, y) if self.spec.conditional else self.D(x)).view(-1)

    @contextlib.contextmanager
    def frozen_d(self):
        """D's parameters do not require grad inside: the generator update's
        backward skips D's weight gradients, which D's next update would
        discard (genmodel's GAN::train_step does the same)."""
        self.D.requires_grad_(False)
        try:
            yield
        finally:
            self.D.requires_grad_(True)

    def step(self, next_batch: Callable[[], Tuple[torch.Tensor, torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """One step; next_batch() gives (images (N,1,28,28), labels (N,)).
        Returns detached scalars: loss_d, loss_g, d_real, d_fake."""
        if self.spec.loss == "wgan_gp":
            return self._wgan_gp_step(next_batch)
        return self._nonsaturating_step(*next_batch())

    def _nonsaturating_step(self, real: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        y = labels if self.spec.conditional else None
        n = real.shape[0]
        ones, zeros = torch.ones(n), torch.zeros(n)
        fake = self.generate(torch.randn(n, Z_DIM), y)

        # D: BCE(D(x), 1) + BCE(D(G(z)), 0)
        d_real = self.critic(real, y)
        d_fake = self.critic(fake.detach(), y)
        loss_d = (F.binary_cross_entropy_with_logits(d_real, ones)
                  + F.binary_cross_entropy_with_logits(d_fake, zeros))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # G: BCE(D(G(z)), 1), through the updated D
        with self.frozen_d():
            loss_g = F.binary_cross_entropy_with_logits(self.critic(fake, y), ones)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        self.opt_g.step()

        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "d_real": torch.sigmoid(d_real.detach()).mean(),
                "d_fake": torch.sigmoid(d_fake.detach()).mean()}

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        # mean((||grad_xhat D(xhat)||_2 - 1)^2), xhat = a*real + (1-a)*fake
        a = torch.rand(real.shape[0], 1, 1, 1)
        xhat = (a * real + (1 - a) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(xhat, None).sum(), xhat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    def _wgan_gp_step(self, next_batch) -> Dict[str, torch.Tensor]:
        for _ in range(self.spec.n_critic):
            real, _labels = next_batch()                 # a fresh real batch each critic step
            n = real.shape[0]
            with torch.no_grad():
                fake = self.generate(torch.randn(n, Z_DIM), None)
            d_real = self.critic(real, None).mean()
            d_fake = self.critic(fake, None).mean()
            loss_d = d_fake - d_real + 10.0 * self.gradient_penalty(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()

        with self.frozen_d():
            loss_g = -self.critic(self.generate(torch.randn(n, Z_DIM), None), None).mean()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        self.opt_g.step()

        # for wgan_gp, d_real / d_fake are raw critic means of the last critic step
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "d_real": d_real.detach(), "d_fake": d_fake.detach()}


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
# bench
# --------------------------------------------------------------------------

def random_batches(batch: int, count: int, gen: torch.Generator):
    """A cycling source of `count` random (images in [-1,1], labels) batches."""
    pool = [(torch.rand(batch, *IMAGE_SHAPE, generator=gen) * 2 - 1,
             torch.randint(0, N_CLASSES, (batch,), generator=gen)) for _ in range(count)]
    i = 0

    def next_batch():
        nonlocal i
        i += 1
        return pool[(i - 1) % count]
    return next_batch


def cmd_bench(args) -> None:
    print_config()
    models = [m for m in args.models.split(",") if m]
    threads = [int(t) for t in args.threads.split(",") if t]
    for m in models:
        if m not in MODELS:
            sys.exit(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    results = []
    for m in models:
        for t in threads:
            set_threads(t)
            torch.manual_seed(0)
            gan = GAN(m)
            next_batch = random_batches(args.batch, 8, torch.Generator().manual_seed(1))
            for _ in range(args.warmup):
                gan.step(next_batch)
            times = []
            for _ in range(args.steps):
                t0 = time.perf_counter()
                gan.step(next_batch)
                times.append((time.perf_counter() - t0) * 1e3)
            p25, med, p75 = np.percentile(times, [25, 50, 75])
            results.append({"model": m, "threads": t, "batch": args.batch,
                            "median_ms": round(float(med), 3), "p25_ms": round(float(p25), 3),
                            "p75_ms": round(float(p75), 3), "torch": torch.__version__})
            print(f"  {m} threads={t}: median {med:.2f} ms", file=sys.stderr, flush=True)

    print(f"\nper-step wall time, batch {args.batch}, {args.warmup} warm-up + {args.steps} timed steps "
          "(wgan_gp: 5 critic + 1 generator step)")
    print(f"{'model':<9} {'threads':>7} {'median ms':>10} {'p25 ms':>9} {'p75 ms':>9} {'img/s':>8}")
    for r in results:
        print(f"{r['model']:<9} {r['threads']:>7} {r['median_ms']:>10.2f} {r['p25_ms']:>9.2f} "
              f"{r['p75_ms']:>9.2f} {r['batch'] / r['median_ms'] * 1e3:>8.0f}")
    print()
    for r in results:
        print(json.dumps(r))


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


def load_fashion_mnist(directory: str) -> Tuple[torch.Tensor, torch.Tensor]:
    images = read_idx_gz(os.path.join(directory, "train-images-idx3-ubyte.gz"), 0x00000803, 3)
    labels = read_idx_gz(os.path.join(directory, "train-labels-idx1-ubyte.gz"), 0x00000801, 1)
    if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


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


def to_pixels(x: torch.Tensor) -> np.ndarray:
    # (N, 1, 28, 28) in [-1, 1] -> (N, 28, 28) uint8, round((x + 1) * 127.5) clamped
    return torch.round((x + 1) * 127.5).clamp(0, 255).to(torch.uint8).squeeze(1).numpy()


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


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

@torch.no_grad()
def sample(gan: GAN, n: int, gen: torch.Generator, chunk: int = 500):
    """n samples from G in eval mode; for cgan with labels 0..9 cycling."""
    gan.G.eval()
    images, labels = [], torch.arange(n) % N_CLASSES
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = torch.randn(m, Z_DIM, generator=gen)
        y = labels[start:start + m] if gan.spec.conditional else None
        images.append(to_pixels(gan.generate(z, y)))
    gan.G.train()
    return np.concatenate(images) if images else np.zeros((0, 28, 28), np.uint8), labels.numpy()


def cmd_train(args) -> None:
    if args.model not in MODELS:
        sys.exit(f"unknown model {args.model!r}; choose from {', '.join(MODELS)}")
    if args.samples > 0 and not args.samples_out:
        sys.exit("--samples N needs --samples-out FILE (or pass --samples 0)")
    print_config()
    set_threads(args.threads)
    torch.manual_seed(args.seed)

    t_load = time.perf_counter()
    x, y = load_fashion_mnist(args.data)
    print(f"loaded {x.shape[0]} training images from {args.data} in "
          f"{time.perf_counter() - t_load:.1f} s", flush=True)

    gan = GAN(args.model)
    n_g = sum(p.numel() for p in gan.G.parameters())
    n_d = sum(p.numel() for p in gan.D.parameters())
    print(f"model {args.model}: G {n_g} parameters, D {n_d} parameters; batch {args.batch}, "
          f"threads {args.threads}, seed {args.seed}, limit {args.seconds} s"
          + (f" / {args.steps} steps" if args.steps else ""), flush=True)

    next_batch, loader = shuffled_batches(x, y, args.batch, torch.Generator().manual_seed(args.seed))
    step, stats = 0, {}
    t0 = time.perf_counter()
    t_last, step_last = t0, 0
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= args.seconds or (args.steps and step >= args.steps):
            break
        out = gan.step(next_batch)
        step += 1
        if step % args.log_every == 0 or step == 1:
            stats = {k: float(v) for k, v in out.items()}
            now = time.perf_counter()
            rate = (step - step_last) * args.batch / max(now - t_last, 1e-9)
            t_last, step_last = now, step
            print(f"step {step:6d} epoch {loader['epoch']:3d} {now - t0:7.1f}s  "
                  f"loss_d {stats['loss_d']:8.4f} loss_g {stats['loss_g']:8.4f}  "
                  f"D(x) {stats['d_real']:7.4f} D(G(z)) {stats['d_fake']:7.4f}  {rate:7.1f} img/s",
                  flush=True)
    seconds = time.perf_counter() - t0
    if step:
        stats = {k: float(v) for k, v in out.items()}

    if args.samples > 0:
        pixels, labels = sample(gan, args.samples, torch.Generator().manual_seed(args.seed + 1))
        os.makedirs(os.path.dirname(os.path.abspath(args.samples_out)), exist_ok=True)
        write_idx3(args.samples_out, pixels)
        print(f"wrote {len(pixels)} samples to {args.samples_out}")
        if gan.spec.conditional:
            write_idx1(args.samples_out + ".labels", labels)
            print(f"wrote their labels to {args.samples_out}.labels")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        pixels, _ = sample(gan, 64, torch.Generator().manual_seed(args.seed + 2))
        png = os.path.join(args.out, "samples.png")
        print(f"wrote {png}" if write_grid_png(png, pixels) else "Pillow not importable: no samples.png")

    summary = {"model": args.model, "steps": step, "seconds": round(seconds, 2),
               "threads": args.threads, "batch": args.batch, "seed": args.seed,
               "img_per_s": round(step * args.batch / max(seconds, 1e-9), 1),
               "loss_d": stats.get("loss_d"), "loss_g": stats.get("loss_g"),
               "d_real": stats.get("d_real"), "d_fake": stats.get("d_fake"),
               "samples": args.samples, "torch": torch.__version__}
    print(json.dumps(summary))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="time one training step of each model")
    b.add_argument("--models", default="mlp,dcgan,cgan,wgan_gp")
    b.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--warmup", type=int, default=5)
    b.add_argument("--steps", type=int, default=30)
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train on Fashion-MNIST and write samples")
    t.add_argument("--model", default="dcgan", choices=list(MODELS))
    t.add_argument("--seconds", type=float, default=600.0, help="wall-time limit of the training loop")
    t.add_argument("--steps", type=int, default=0, help="step limit (0: none)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--samples", type=int, default=10000)
    t.add_argument("--samples-out", default=None, metavar="FILE")
    t.add_argument("--data", default=DEFAULT_DATA)
    t.add_argument("--out", default=None, metavar="DIR", help="also write DIR/samples.png (needs Pillow)")
    t.add_argument("--log-every", type=int, default=100)
    t.set_defaults(func=cmd_train)

    args = parser.parse_args(argv)
    for name in ("batch", "threads") if args.command == "train" else ("batch",):
        if getattr(args, name) < 1:
            sys.exit(f"--{name} must be at least 1")
    args.func(args)


if __name__ == "__main__":
    main()
