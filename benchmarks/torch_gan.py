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
directly from its gzipped IDX files. The data loading, the IDX writers and
the thread and configuration helpers are in ``torch_common.py``, next to
this script (shared with ``torch_vae.py`` and ``torch_ddpm.py``).

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

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# torch_common exits with a hint when numpy or torch cannot be imported.
from torch_common import (N_CLASSES, add_bench_args, add_train_args, bench_configs,  # noqa: E402
                          bench_grid, load_fashion_mnist, make_parser, print_bench_results,
                          print_config, random_batches, require_at_least_one, sample_in_chunks,
                          save_grid, set_threads, to_pixels, train_loop, write_samples)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

Z_DIM = 100
IMAGE_SHAPE = (1, 28, 28)


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
# bench
# --------------------------------------------------------------------------

def cmd_bench(args) -> None:
    print_config()
    models, threads = bench_grid(args, MODELS, check_threads=False)

    def make_step(m: str) -> Callable[[], object]:
        gan = GAN(m)
        next_batch = random_batches(args.batch, IMAGE_SHAPE, 8, torch.Generator().manual_seed(1))
        return lambda: gan.step(next_batch)

    results = bench_configs(args, models, threads, make_step)
    print_bench_results(args, "(wgan_gp: 5 critic + 1 generator step)", results, model_width=9)


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def sample(gan: GAN, n: int, gen: torch.Generator, chunk: int = 500):
    """n samples from G in eval mode; for cgan with labels 0..9 cycling."""
    def draw(labels: torch.Tensor) -> np.ndarray:
        z = torch.randn(len(labels), Z_DIM, generator=gen)
        return to_pixels(gan.generate(z, labels if gan.spec.conditional else None))
    return sample_in_chunks(n, chunk, draw, model=gan.G)


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

    def progress(out: Dict[str, torch.Tensor], rate: float) -> str:
        stats = {k: float(v) for k, v in out.items()}
        return (f"loss_d {stats['loss_d']:8.4f} loss_g {stats['loss_g']:8.4f}  "
                f"D(x) {stats['d_real']:7.4f} D(G(z)) {stats['d_fake']:7.4f}  {rate:7.1f} img/s")

    step, seconds, out = train_loop(args, x, y, gan.step, progress)
    stats = {k: float(v) for k, v in out.items()} if out is not None else {}

    if args.samples > 0:
        pixels, labels = sample(gan, args.samples, torch.Generator().manual_seed(args.seed + 1))
        write_samples(args.samples_out, pixels, labels if gan.spec.conditional else None)
    if args.out:
        save_grid(args.out, sample(gan, 64, torch.Generator().manual_seed(args.seed + 2))[0])

    summary = {"model": args.model, "steps": step, "seconds": round(seconds, 2),
               "threads": args.threads, "batch": args.batch, "seed": args.seed,
               "img_per_s": round(step * args.batch / max(seconds, 1e-9), 1),
               "loss_d": stats.get("loss_d"), "loss_g": stats.get("loss_g"),
               "d_real": stats.get("d_real"), "d_fake": stats.get("d_fake"),
               "samples": args.samples, "torch": torch.__version__}
    print(json.dumps(summary))


def main(argv=None) -> None:
    parser, sub = make_parser(__doc__)

    b = sub.add_parser("bench", help="time one training step of each model")
    add_bench_args(b, models="mlp,dcgan,cgan,wgan_gp", warmup=5, steps=30)
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train on Fashion-MNIST and write samples")
    t.add_argument("--model", default="dcgan", choices=list(MODELS))
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    args = parser.parse_args(argv)
    require_at_least_one(args, ("batch", "threads") if args.command == "train" else ("batch",))
    args.func(args)


if __name__ == "__main__":
    main()
