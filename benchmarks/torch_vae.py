#!/usr/bin/env python3
"""PyTorch twin of genmodel's C++ VAE trainer, for speed and quality comparisons.

The script builds the convolutional VAE of genmodel, layer for layer
(include/genmodel/models/vae_architectures.hpp: ConvEncoder, ConvDecoder,
make_conv_vae; include/genmodel/models/vae.hpp: VAE<>, BceReconstruction,
with the KL term of include/genmodel/losses/kl.hpp), plain or conditional,
and either times one training step (``bench``) or trains it on
Fashion-MNIST and writes decoded samples as an IDX file (``train``), which
the C++ evaluator can score exactly like the C++ trainer's samples.

Requirements: PyTorch (Debian 12's ``python3-torch`` 1.13, run with
``/usr/bin/python3``, or ``torch`` from PyPI) and numpy. Pillow is optional
(only for ``--out DIR``'s ``samples.png``). The data are Debian's
``dataset-fashion-mnist`` package (``dpkg -L dataset-fashion-mnist``), read
directly from its gzipped IDX files; the loading, the IDX writers and the
thread helpers are in ``torch_common.py``, next to this script.

Model (latent L = 16; images 1x28x28 in [0, 1], a Fashion-MNIST pixel p
becomes p / 255; PyTorch's default layer arguments and PyTorch's default
initialisation everywhere, as genmodel's nn::Linear, nn::Conv2d,
nn::ConvTranspose2d (kaiming_uniform_(a = sqrt(5)) weights, U(+-1/sqrt(fan_in))
biases) and nn::Embedding (N(0, 1)) use; parameter names as genmodel's state
dict):

encoder (ConvEncoder)
    features: Conv2d(1,32,4,2,1) ReLU                      (N, 32, 14, 14)
              Conv2d(32,64,4,2,1) ReLU                     (N, 64, 7, 7)
              Flatten                                      (N, 3136)
    [conditional: concat(features, label_embedding(y)), label_embedding =
     Embedding(10,16): (N, 3152)]
    fc: Linear(3136 [+16], 32) -> [mu | logvar], each (N, 16): mu the first
        16 columns, logvar the last 16.
decoder (ConvDecoder)
    [conditional: concat(z, label_embedding(y)), its own Embedding(10,16):
     (N, 32)]
    fc: Linear(16 [+16], 3136)
    net: ReLU, Unflatten(1, (64,7,7)),
         ConvTranspose2d(64,32,4,2,1) ReLU                 (N, 32, 14, 14)
         ConvTranspose2d(32,1,4,2,1)                       (N, 1, 28, 28) logits
The encoder and the decoder each own a label embedding (two tables, as in
genmodel's detail::LabelInput). With --label-dropout P > 0 (the default for
--conditional, P = 0.1, as genmodel's cvae) each table has an 11th row, the
null label 10: in training each label becomes 10 with probability P (one
uniform per example, for encoder and decoder alike), so the model also
learns the unconditional VAE, and --guidance S samples with classifier-free
guidance (default 2, as genmodel's cvae): logits = u + S (c - u), c and u
the decoder's logits for the same z with the label and with the null label
(genmodel's VAE::sample).

Loss (one training step = one Adam step on one batch):
    z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I)
    recon = mean over the batch of sum over the 784 pixels of
            BCEWithLogits(decoder(z[, y]), x)
    KL    = mean over the batch of -1/2 sum over the 16 latents of
            (1 + logvar - mu^2 - exp(logvar))
    loss  = recon + beta * KL                      (beta = 1: the negative ELBO)
    Adam(1e-3, betas (0.9, 0.999), eps 1e-8), batch 64.

Evaluation: the test-set ELBO is the mean over the 10000 test images of
-(recon + KL) with beta = 1 and one z sample per image (its eps from a
Generator seeded seed + 3), in nats per image; a conditional VAE is given
the true test labels (a bound on log p(x | y)). Samples: z ~ N(0, I) from a
Generator seeded seed + 1, x = sigmoid(decoder(z[, y])), pixel =
round(x * 255) clamped to 0..255; for the conditional VAE sample i has
label i % 10.

Usage:
    # time one training step, plain and conditional, at 1 and 2 threads, batch 64
    /usr/bin/python3 benchmarks/torch_vae.py bench --models vae,cvae --threads 1,2 \\
        --batch 64 --warmup 5 --steps 30

    # train the conditional VAE for 10 minutes on 2 threads, then write 10000 samples
    /usr/bin/python3 benchmarks/torch_vae.py train --conditional --seconds 600 \\
        --threads 2 --seed 0 --samples 10000 --samples-out runs/torch_cvae.idx3-ubyte

``bench`` prints a table and one JSON line per (model, threads), with the
median and interquartile range of the per-step wall time (random batches in
[0, 1]). ``train`` prints progress every ~100 steps, then the steps done, the
last step's loss, the test-set ELBO, and a JSON summary line; its samples
are an uncompressed IDX3 ubyte file (magic 0x00000803, big-endian N, 28,
28); for --conditional the labels (0..9 cycling) are written as an IDX1
ubyte file at FILE.labels.

Threads: see torch_common.py (torch.set_num_threads, plus
openblas_set_num_threads for Debian's OpenBLAS). On a machine whose cores
are busy with other work, OMP_WAIT_POLICY=passive avoids the OpenMP
spin-waiting that can make 2-thread runs slower than 1-thread ones.
"""

import json
import os
import sys
import time
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

LATENT = 16
LABEL_DIM = 16
FEATURES = 64 * 7 * 7  # 3136
IMAGE_SHAPE = (1, 28, 28)
MODELS = {"vae": False, "cvae": True}  # name -> conditional


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class ConvEncoder(nn.Module):
    """x (N, 1, 28, 28) [, y (N,)] -> (N, 2 L) = [mu | logvar]."""

    def __init__(self, conditional: bool, null_label: bool = False) -> None:
        super().__init__()
        self.conditional = conditional
        if conditional:
            self.label_embedding = nn.Embedding(N_CLASSES + int(null_label), LABEL_DIM)
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1),        # (N, 32, 14, 14)
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),       # (N, 64, 7, 7)
            nn.ReLU(),
            nn.Flatten(),                                    # (N, 3136)
        )
        self.fc = nn.Linear(FEATURES + (LABEL_DIM if conditional else 0), 2 * LATENT)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.features(x)
        if self.conditional:
            h = torch.cat([h, self.label_embedding(y)], dim=1)
        return self.fc(h)


class ConvDecoder(nn.Module):
    """z (N, L) [, y (N,)] -> logits (N, 1, 28, 28)."""

    def __init__(self, conditional: bool, null_label: bool = False) -> None:
        super().__init__()
        self.conditional = conditional
        if conditional:
            self.label_embedding = nn.Embedding(N_CLASSES + int(null_label), LABEL_DIM)
        self.fc = nn.Linear(LATENT + (LABEL_DIM if conditional else 0), FEATURES)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # (N, 32, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),   # (N, 1, 28, 28)
        )

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.conditional:
            z = torch.cat([z, self.label_embedding(y)], dim=1)
        return self.net(self.fc(z))


class VAE(nn.Module):
    """genmodel's VAE<ConvEncoder, ConvDecoder, BceReconstruction>."""

    def __init__(self, conditional: bool, beta: float = 1.0, label_dropout: float = 0.0) -> None:
        super().__init__()
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not 0 <= label_dropout <= 1 or (label_dropout > 0 and not conditional):
            raise ValueError(f"label_dropout must be in [0, 1] and needs the conditional VAE, got {label_dropout}")
        self.conditional = conditional
        self.beta = beta
        self.label_dropout = label_dropout
        self.encoder = ConvEncoder(conditional, label_dropout > 0)
        self.decoder = ConvDecoder(conditional, label_dropout > 0)

    def labels(self, y: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        return y if self.conditional else None

    def encode(self, x: torch.Tensor, y: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x, self.labels(y))
        return h[:, :LATENT], h[:, LATENT:]

    def losses(self, x: torch.Tensor, y: Optional[torch.Tensor], beta: float,
               gen: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
        """Per-example recon and KL (N,), from one z sample each; total = mean(recon + beta KL).
        In training mode with label_dropout, each label becomes the null label N_CLASSES with that
        probability (for encoder and decoder alike)."""
        if self.conditional and self.label_dropout > 0 and self.training:
            drop = torch.rand(y.shape, generator=gen) < self.label_dropout
            y = torch.where(drop, torch.full_like(y, N_CLASSES), y)
        mu, logvar = self.encode(x, y)
        eps = torch.randn(mu.shape, generator=gen)
        z = mu + torch.exp(logvar * 0.5) * eps
        logits = self.decoder(z, self.labels(y))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu * mu - torch.exp(logvar)).sum(1)
        rec_mean, kl_mean = recon.mean(), kl.mean()
        return {"total": rec_mean + beta * kl_mean, "recon": rec_mean, "kl": kl_mean,
                "recon_each": recon, "kl_each": kl}


class Trainer:
    """The VAE, its Adam optimizer and one training step."""

    def __init__(self, conditional: bool, beta: float = 1.0, lr: float = 1e-3, label_dropout: float = 0.0) -> None:
        self.vae = VAE(conditional, beta, label_dropout)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        self.opt.zero_grad(set_to_none=True)
        out = self.vae.losses(x, y, self.vae.beta)
        out["total"].backward()
        self.opt.step()
        return {k: out[k].detach() for k in ("total", "recon", "kl")}


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------

def cmd_bench(args) -> None:
    print_config()
    models, threads = bench_grid(args, MODELS)

    def make_step(m: str) -> Callable[[], object]:
        trainer = Trainer(MODELS[m])
        next_batch = random_batches(args.batch, IMAGE_SHAPE, 8, torch.Generator().manual_seed(1),
                                    "unit", first=1)
        return lambda: trainer.step(*next_batch())

    results = bench_configs(args, models, threads, make_step)
    print_bench_results(args, "(vae: plain, cvae: conditional)", results, model_width=6)


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def sample(vae: VAE, n: int, gen: torch.Generator, chunk: int = 500, temperature: float = 1.0,
           guidance: float = 1.0):
    """n images sigmoid(decoder(z)), z ~ N(0, temperature^2 I), as uint8 (n, 28, 28); labels 0..9 cycling.
    guidance s != 1: sigmoid(u + s (c - u)), c and u the decoder's logits with the label and the null label."""
    def draw(labels: torch.Tensor) -> np.ndarray:
        z = torch.randn(len(labels), LATENT, generator=gen) * temperature
        logits = vae.decoder(z, vae.labels(labels))
        if guidance != 1.0:
            uncond = vae.decoder(z, torch.full_like(labels, N_CLASSES))
            logits = uncond + guidance * (logits - uncond)
        return to_pixels(torch.sigmoid(logits), "unit")
    return sample_in_chunks(n, chunk, draw, model=vae)


@torch.no_grad()
def test_elbo(vae: VAE, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
              chunk: int = 500) -> Dict[str, float]:
    """Mean over the images of -(recon + KL) (beta 1, one z sample each), and its two parts."""
    vae.eval()
    rec_sum = kl_sum = 0.0
    for start in range(0, x.shape[0], chunk):
        out = vae.losses(x[start:start + chunk], y[start:start + chunk], 1.0, gen)
        rec_sum += float(out["recon_each"].double().sum())
        kl_sum += float(out["kl_each"].double().sum())
    vae.train()
    n = x.shape[0]
    return {"elbo": -(rec_sum + kl_sum) / n, "recon": rec_sum / n, "kl": kl_sum / n}


def cmd_train(args) -> None:
    if args.samples > 0 and not args.samples_out:
        sys.exit("--samples N needs --samples-out FILE (or pass --samples 0)")
    if args.beta < 0:
        sys.exit("--beta must be >= 0")
    label_dropout = args.label_dropout if args.conditional else 0.0
    if args.guidance is None:
        args.guidance = 2.0 if label_dropout > 0 else 1.0
    if not args.conditional:
        args.guidance = 1.0
    if not 0 <= label_dropout <= 1:
        sys.exit("--label-dropout must be in [0, 1]")
    if args.guidance != 1.0 and label_dropout == 0:
        sys.exit("--guidance needs --label-dropout > 0 (or --guidance 1)")
    print_config()
    set_threads(args.threads)
    torch.manual_seed(args.seed)

    t_load = time.perf_counter()
    x, y = load_fashion_mnist(args.data, "train", "unit")
    x_test, y_test = load_fashion_mnist(args.data, "test", "unit")
    print(f"loaded {x.shape[0]} training and {x_test.shape[0]} test images from {args.data} in "
          f"{time.perf_counter() - t_load:.1f} s", flush=True)

    name = "cvae" if args.conditional else "vae"
    trainer = Trainer(args.conditional, args.beta, label_dropout=label_dropout)
    n_params = sum(p.numel() for p in trainer.vae.parameters())
    print(f"model {name} (conv, latent {LATENT}): {n_params} parameters; beta {args.beta}, "
          f"batch {args.batch}, threads {args.threads}, seed {args.seed}, limit {args.seconds} s"
          + (f" / {args.steps} steps" if args.steps else ""), flush=True)

    def progress(out: Dict[str, torch.Tensor], rate: float) -> str:
        stats = {k: float(v) for k, v in out.items()}
        return (f"loss {stats['total']:9.3f} recon {stats['recon']:9.3f} kl {stats['kl']:7.3f}  "
                f"{rate:7.1f} img/s")

    step, seconds, out = train_loop(args, x, y, lambda next_batch: trainer.step(*next_batch()), progress)
    stats = {k: float(v) for k, v in out.items()} if out is not None else {}

    t_eval = time.perf_counter()
    ev = test_elbo(trainer.vae, x_test, y_test, torch.Generator().manual_seed(args.seed + 3))
    print(f"steps {step} in {seconds:.1f} s; final loss {stats.get('total', float('nan')):.3f} "
          f"(recon {stats.get('recon', float('nan')):.3f}, kl {stats.get('kl', float('nan')):.3f}); "
          f"test ELBO {ev['elbo']:.3f} nats/image (recon {ev['recon']:.3f}, kl {ev['kl']:.3f}; "
          f"{time.perf_counter() - t_eval:.1f} s)", flush=True)

    if args.samples > 0:
        pixels, labels = sample(trainer.vae, args.samples, torch.Generator().manual_seed(args.seed + 1),
                                temperature=args.temperature, guidance=args.guidance)
        write_samples(args.samples_out, pixels, labels if args.conditional else None)
    if args.out:
        save_grid(args.out, sample(trainer.vae, 64, torch.Generator().manual_seed(args.seed + 2),
                                   temperature=args.temperature, guidance=args.guidance)[0])

    summary = {"model": name, "beta": args.beta, "label_dropout": label_dropout, "guidance": args.guidance,
               "steps": step, "seconds": round(seconds, 2),
               "threads": args.threads, "batch": args.batch, "seed": args.seed,
               "img_per_s": round(step * args.batch / max(seconds, 1e-9), 1),
               "loss": stats.get("total"), "recon": stats.get("recon"), "kl": stats.get("kl"),
               "test_elbo": round(ev["elbo"], 4), "test_recon": round(ev["recon"], 4),
               "test_kl": round(ev["kl"], 4), "samples": args.samples, "torch": torch.__version__}
    print(json.dumps(summary))


def main(argv=None) -> None:
    parser, sub = make_parser(__doc__)

    b = sub.add_parser("bench", help="time one training step, plain (vae) and conditional (cvae)")
    add_bench_args(b, models="vae,cvae", warmup=5, steps=30)
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train on Fashion-MNIST, report the test ELBO and write samples")
    t.add_argument("--conditional", action="store_true", help="the class-conditional VAE")
    t.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (beta-VAE)")
    t.add_argument("--temperature", type=float, default=1.0,
                   help="sampling: z ~ N(0, temperature^2 I), as the C++ trainer's --temperature")
    t.add_argument("--label-dropout", type=float, default=0.1,
                   help="--conditional: P(a training label -> the null label), as the C++ cvae's (0: off)")
    t.add_argument("--guidance", type=float, default=None,
                   help="--conditional: classifier-free guidance scale of the samples (1: none; default 2, "
                        "or 1 with --label-dropout 0), as the C++ cvae's")
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    args = parser.parse_args(argv)
    require_at_least_one(args, ("batch", "threads") if args.command == "train" else ("batch",))
    if args.command == "bench" and (args.steps < 1 or args.warmup < 0):
        sys.exit("--steps must be at least 1 and --warmup at least 0")
    args.func(args)


if __name__ == "__main__":
    main()
