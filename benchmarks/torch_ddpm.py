#!/usr/bin/env python3
"""PyTorch twin of genmodel's C++ DDPM trainer, for speed and quality comparisons.

The script builds genmodel's diffusion model layer for layer: the U-Net of
include/genmodel/models/unet.hpp (with its blocks from nn/resblock.hpp,
nn/attention.hpp, nn/time_embedding.hpp, nn/normalization.hpp; the 2x
upsampling of nn/upsample.hpp's nearest mode), the noise schedule and
samplers of include/genmodel/models/noise_schedule.hpp, and the training
step, EMA and classifier-free guidance of include/genmodel/models/ddpm.hpp
(with optim/ema.hpp). It times one training step and DDIM sampling
(``bench``), trains on Fashion-MNIST and writes samples as an IDX file
(``train``), which the C++ evaluator can score exactly like the C++
trainer's samples, or draws samples from saved EMA weights (``sample``).

Requirements: PyTorch (Debian 12's ``python3-torch`` 1.13, run with
``/usr/bin/python3``, or ``torch`` from PyPI) and numpy. Pillow is optional
(only for ``--out DIR``'s ``samples.png``). The data are Debian's
``dataset-fashion-mnist`` package (``dpkg -L dataset-fashion-mnist``), read
directly from its gzipped IDX files; the loading, the IDX writers and the
thread helpers are in ``torch_common.py``, next to this script.

Data: a Fashion-MNIST pixel p becomes p / 127.5 - 1, and each 28x28 image is
padded with 2 rows/columns of -1 (the background) on every side to 1x32x32,
as data::FashionMNIST's pad = 2 with the symmetric range.

U-Net (genmodel's UNetOptions defaults: channels c = 32/64/128, one residual
block per level, attention at 8x8 and in the middle, GroupNorm(8 groups,
eps 1e-5), time embedding width 4 c0 = 128; PyTorch's default layer
arguments and PyTorch's default initialisation everywhere, as genmodel's
nn::Linear / nn::Conv2d (kaiming_uniform_(a = sqrt(5)) weights,
U(+-1/sqrt(fan_in)) biases), nn::Embedding (N(0, 1)) and nn::GroupNorm
(weight 1, bias 0) use; no zero-initialised layers; parameter names as
genmodel's state dict):

    sinusoidal(t, 32): for i = 0..15, f_i = exp(-ln(10000) * i / (16 - 1)),
        [sin(t f_i) (16 columns) | cos(t f_i) (16 columns)], computed in
        double (diffusers' get_timestep_embedding, flip_sin_to_cos False,
        downscale_freq_shift 1)
    temb = time_embedding: Linear(32,128) SiLU Linear(128,128)  (B, 128)
        [conditional: + class_embedding(y), Embedding(11,128); row 10 is
         the null label]
    ResBlock2d(in, out), given h and temb (diffusers' ResnetBlock2D, no dropout):
        a = conv1(SiLU(norm1(h)))                GroupNorm(8,in), Conv2d(in,out,3,1,1)
        a = a + time_emb_proj(SiLU(temb))[:, :, None, None]     Linear(128,out)
        a = conv2(SiLU(norm2(a)))                GroupNorm(8,out), Conv2d(out,out,3,1,1)
        out = conv_shortcut(h) + a               Conv2d(in,out,1) when in != out, else h + a
    AttentionBlock2d(C), single head:
        q, k, v = channels [0,C), [C,2C), [2C,3C) of qkv(norm(h)),
                  GroupNorm(8,C), Conv2d(C,3C,1), each (B, C, HW)
        attn = softmax(q^T k / sqrt(C), over the keys)          (B, HW, HW)
        out = h + proj_out(v attn^T reshaped to (B, C, H, W))    Conv2d(C,C,1)
    conv_in      Conv2d(1,32,3,1,1)                        (B, 32, 32, 32)
    down.0       ResBlock2d(32,32)              -> skip s0 (B, 32, 32, 32)
                 downsample Conv2d(32,32,3,2,1)            (B, 32, 16, 16)
    down.1       ResBlock2d(32,64)              -> skip s1 (B, 64, 16, 16)
                 downsample Conv2d(64,64,3,2,1)            (B, 64, 8, 8)
    down.2       ResBlock2d(64,128), AttentionBlock2d(128) -> skip s2 (B, 128, 8, 8)
    mid          ResBlock2d(128,128), AttentionBlock2d(128), ResBlock2d(128,128)
    up.0         ResBlock2d(256,128) on concat(h, s2), AttentionBlock2d(128)
                 nearest x2, upsample Conv2d(128,128,3,1,1) (B, 128, 16, 16)
    up.1         ResBlock2d(192,64) on concat(h, s1)
                 nearest x2, upsample Conv2d(64,64,3,1,1)   (B, 64, 32, 32)
    up.2         ResBlock2d(96,32) on concat(h, s0)         (B, 32, 32, 32)
    out          conv_out(SiLU(norm_out(h))), GroupNorm(8,32), Conv2d(32,1,3,1,1)
(concat puts h first and the skip second, along the channels.)

Schedule and training (epsilon prediction): betas linear from 1e-4 to 0.02
over T = 1000 steps (beta_i = 1e-4 + (0.02 - 1e-4) i / 999), abar_t =
prod_{i<=t} (1 - beta_i), all in double. One training step on a batch x0:
    t ~ U{0..999}, noise ~ N(0, I), then (conditional) a U[0,1) draw per
    label, the label replaced by the null class 10 when it is below 0.1
    (all from one training Generator seeded --seed, in that order)
    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise
    loss = MSE(unet(x_t, t[, y]), noise), averaged over every element
    Adam(2e-4, betas (0.9, 0.999), eps 1e-8) step [clip_grad_norm_ when
    --grad-clip > 0; off by default, as DDPMOptions], then the EMA of the
    weights: shadow += (1 - d_k) (w - shadow) at update k = 0, 1, ...,
    d_k = min(0.999, (1 + k) / (10 + k)) (diffusers' EMAModel warm-up), the
    shadow starting as a copy of the initial weights.

Sampling (EMA weights, eval mode, no graph), from x_T ~ N(0, I) (1x32x32),
with a Generator seeded seed + 1 for x_T and every step's noise:
    model output: unconditional unet(x, t); conditional with labels and
        guidance s: s == 1: unet(x, t, y); else one forward of 2B rows
        [x; x], [t; t], [y; null] and out = uncond + s (cond - uncond).
    DDIM (diffusers' DDIMScheduler, set_alpha_to_one, clip_sample):
        timesteps 'leading': i * (1000 // n) for i = n-1 .. 0 (50 steps:
        980, 960, ..., 0); prev = the next timestep in that list, abar_prev =
        abar[prev], or 1 after the last;
        x0 = clamp((x - sqrt(1 - abar) eps) / sqrt(abar), -1, 1) and then
            eps = (x - sqrt(abar) x0) / sqrt(1 - abar) (--no-clip-sample:
            neither; the ancestral sampler clips x0 the same way; ``bench``
            never clips, as genmodel's bench_vae_ddpm_step)
        sigma = eta sqrt((1 - abar_prev) / (1 - abar) (1 - abar / abar_prev))
        x = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z
            (z ~ N(0, I) only when eta > 0)
    DDPM ancestral, over all 1000 timesteps (999..0):
        beta = 1 - abar / abar_prev, coef1 = sqrt(abar_prev) beta / (1 - abar),
        coef2 = sqrt(1 - beta) (1 - abar_prev) / (1 - abar),
        x = coef1 x0 + coef2 x + sqrt(max((1 - abar_prev) / (1 - abar) beta, 1e-20)) z,
        no noise at the last step (abar_prev = 1 there).
Output: the centre 28x28 (rows and columns 2..29) of each sample, pixel =
round((x + 1) * 127.5) clamped to 0..255; a conditional model's sample i
has label i % 10.

Usage:
    # time one training step (plain and conditional) at 1 and 2 threads, batch 64,
    # and DDIM-50 sampling of 64 images
    /usr/bin/python3 benchmarks/torch_ddpm.py bench --models ddpm,cddpm --threads 1,2 \\
        --batch 64 --warmup 2 --steps 10 --sample

    # train the conditional model for an hour on 2 threads, keep its EMA weights,
    # then write 10000 DDIM-50 samples with guidance 2
    /usr/bin/python3 benchmarks/torch_ddpm.py train --conditional --seconds 3600 \\
        --threads 2 --seed 0 --save runs/torch_cddpm.pt --sampler ddim --sample-steps 50 \\
        --guidance 2 --samples 10000 --samples-out runs/torch_cddpm.idx3-ubyte

    # more samples later from the saved EMA weights
    /usr/bin/python3 benchmarks/torch_ddpm.py sample --load runs/torch_cddpm.pt \\
        --sampler ddim --sample-steps 50 --guidance 2 --threads 2 --samples 10000 \\
        --samples-out runs/torch_cddpm_g2.idx3-ubyte

``bench`` prints a table and one JSON line per (model, threads): the median
and interquartile range of the per-step wall time (random batches in
[-1, 1]), the resident-set growth of the first (warm-up) steps (peak RSS
during them minus the RSS before them, the model and optimizer already
built) and of the timed steps, and with --sample the seconds to sample 64
images with DDIM-50 (eta 0, EMA weights; --guidance for cddpm, whose
forwards have 2B rows when it is not 1). Each (model, threads) runs in a
fresh process (multiprocessing's spawn), so that its RSS figures do not
start from memory an earlier configuration left with the allocator
(--in-process runs them all in one). The RSS readings are Linux's VmRSS
and VmHWM (the peak, reset between the phases through
/proc/self/clear_refs; ru_maxrss where there is no /proc). ``train`` prints progress every ~50 steps and a JSON summary
line; ``--save FILE`` writes the EMA weights' state dict (torch.save)
before sampling, which ``sample --load FILE`` reads back (a state dict
with class_embedding.weight is a conditional model). Samples are an
uncompressed IDX3 ubyte file (magic 0x00000803, big-endian N, 28, 28); for
a conditional model the labels (0..9 cycling) are written as an IDX1 ubyte
file at FILE.labels.

Threads: see torch_common.py (torch.set_num_threads, plus
openblas_set_num_threads for Debian's OpenBLAS). On a machine whose cores
are busy with other work, OMP_WAIT_POLICY=passive avoids the OpenMP
spin-waiting that can make 2-thread runs slower than 1-thread ones.
"""

import argparse
import copy
import json
import math
import multiprocessing
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# torch_common exits with a hint when numpy or torch cannot be imported.
from torch_common import (DEFAULT_DATA, N_CLASSES, add_bench_args, add_limit_args,  # noqa: E402
                          bench_grid, bench_record, load_fashion_mnist, log_median, make_parser,
                          peak_rss_kib, print_bench_results, print_config, random_batches,
                          require_at_least_one, reset_peak_rss, rss_kib, sample_in_chunks,
                          save_grid, set_threads, time_steps, to_pixels, train_loop, use_device,
                          write_samples)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

IMAGE_SIZE = 32  # 28 + 2 * pad
PAD = 2
CHANNELS = (32, 64, 128)
LAYERS_PER_LEVEL = 1
ATTENTION_RESOLUTIONS = (8,)
GROUPS = 8
NULL_LABEL = N_CLASSES  # the 11th class-embedding row
MODELS = {"ddpm": False, "cddpm": True}  # name -> conditional


# --------------------------------------------------------------------------
# U-Net
# --------------------------------------------------------------------------

def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0,
                       downscale_freq_shift: float = 1.0) -> torch.Tensor:
    """t (B,) -> (B, dim) float32: [sin(t f_i) | cos(t f_i)], f_i = exp(-ln(max_period) i / (dim/2 - shift)),
    in double as genmodel's nn::timestep_embedding; zero-padded when dim is odd."""
    half = dim // 2
    i = torch.arange(half, dtype=torch.float64)
    freq = torch.exp(-math.log(max_period) * i / (half - downscale_freq_shift))
    arg = t.to(torch.float32).to(torch.float64)[:, None] * freq[None, :]
    emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1).to(torch.float32)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    """sinusoidal(t, sin_dim) -> linear_1 -> SiLU -> linear_2."""

    def __init__(self, sin_dim: int, dim: int) -> None:
        super().__init__()
        self.sin_dim = sin_dim
        self.linear_1 = nn.Linear(sin_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(timestep_embedding(t, self.sin_dim))))


class ResBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int = GROUPS, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class AttentionBlock2d(nn.Module):
    def __init__(self, channels: int, groups: int = GROUPS, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.norm = nn.GroupNorm(groups, channels, eps=eps)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)     # each (n, c, hw)
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k) * (1.0 / math.sqrt(c)), dim=-1)  # (n, hw, hw)
        out = torch.bmm(v, attn.transpose(1, 2))                                # (n, c, hw)
        return x + self.proj_out(out.reshape(n, c, h, w))


class UNetLevel(nn.Module):
    """res.<j> residual blocks, attn.<j> after each (or none), then downsample / upsample (or none)."""

    def __init__(self) -> None:
        super().__init__()
        self.res = nn.ModuleList()
        self.attn: Optional[nn.ModuleList] = None  # becomes a registered child when set

    def resample(self) -> Optional[nn.Conv2d]:
        """The level's downsample or upsample convolution, or None."""
        return self._modules.get("downsample") or self._modules.get("upsample")


class UNetMid(nn.Module):
    def __init__(self, c: int, temb: int) -> None:
        super().__init__()
        self.res1 = ResBlock2d(c, c, temb)
        self.attn = AttentionBlock2d(c)
        self.res2 = ResBlock2d(c, c, temb)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.res2(self.attn(self.res1(h, temb)), temb)


class UNet(nn.Module):
    """x (B, 1, 32, 32), t (B,) int64 [, labels (B,) in 0..10] -> (B, 1, 32, 32)."""

    def __init__(self, conditional: bool, channels: Sequence[int] = CHANNELS) -> None:
        super().__init__()
        ch = tuple(channels)
        self.channels = ch
        self.conditional = conditional
        temb = 4 * ch[0]
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        if conditional:
            self.class_embedding = nn.Embedding(N_CLASSES + 1, temb)
        self.conv_in = nn.Conv2d(1, ch[0], 3, padding=1)

        def has_attention(level: int) -> bool:
            return (IMAGE_SIZE >> level) in ATTENTION_RESOLUTIONS

        self.down = nn.ModuleList()
        c, skips = ch[0], []
        for i, width in enumerate(ch):
            level = UNetLevel()
            if has_attention(i):
                level.attn = nn.ModuleList()
            for _ in range(LAYERS_PER_LEVEL):
                level.res.append(ResBlock2d(c, width, temb))
                c = width
                if level.attn is not None:
                    level.attn.append(AttentionBlock2d(c))
                skips.append(c)
            if i + 1 < len(ch):
                level.downsample = nn.Conv2d(c, c, 3, stride=2, padding=1)
            self.down.append(level)

        self.mid = UNetMid(c, temb)

        self.up = nn.ModuleList()  # up.0 is the deepest level
        for i in reversed(range(len(ch))):
            level = UNetLevel()
            if has_attention(i):
                level.attn = nn.ModuleList()
            for _ in range(LAYERS_PER_LEVEL):
                level.res.append(ResBlock2d(c + skips.pop(), ch[i], temb))
                c = ch[i]
                if level.attn is not None:
                    level.attn.append(AttentionBlock2d(c))
            if i > 0:
                level.upsample = nn.Conv2d(c, c, 3, padding=1)
            self.up.append(level)

        self.norm_out = nn.GroupNorm(GROUPS, c)
        self.conv_out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        temb = self.time_embedding(t)
        if self.conditional:
            if labels is None:
                labels = torch.full((x.shape[0],), NULL_LABEL, dtype=torch.int64)
            temb = temb + self.class_embedding(labels)
        elif labels is not None:
            raise ValueError("UNet: labels given to a net built without classes")

        h = self.conv_in(x)
        skips: List[torch.Tensor] = []
        for level in self.down:
            for j, res in enumerate(level.res):
                h = res(h, temb)
                if level.attn is not None:
                    h = level.attn[j](h)
                skips.append(h)
            down = level.resample()
            if down is not None:
                h = down(h)
        h = self.mid(h, temb)
        for level in self.up:
            for j, res in enumerate(level.res):
                h = res(torch.cat([h, skips.pop()], dim=1), temb)
                if level.attn is not None:
                    h = level.attn[j](h)
            up = level.resample()
            if up is not None:
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


# --------------------------------------------------------------------------
# Noise schedule and samplers (genmodel's NoiseSchedule defaults)
# --------------------------------------------------------------------------

class NoiseSchedule:
    """Linear betas 1e-4..0.02 over T steps, epsilon prediction, every quantity in double."""

    def __init__(self, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 clip_sample: bool = False) -> None:
        self.T = T
        self.clip_sample = clip_sample
        self.betas = [beta_start + (beta_end - beta_start) * i / (T - 1) if T > 1 else beta_start
                      for i in range(T)]
        self.alphas_cumprod, prod = [], 1.0
        for b in self.betas:
            prod *= 1.0 - b
            self.alphas_cumprod.append(prod)
        ab = torch.tensor(self.alphas_cumprod, dtype=torch.float64)
        self.sqrt_ab = torch.sqrt(ab)
        self.sqrt_one_minus_ab = torch.sqrt(1.0 - ab)
        self.final_alpha_cumprod = 1.0  # set_alpha_to_one
        self.timesteps = list(range(T - 1, -1, -1))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (x0.dim() - 1)
        a = self.sqrt_ab[t].to(x0.dtype).view(shape)
        s = self.sqrt_one_minus_ab[t].to(x0.dtype).view(shape)
        return x0 * a + noise * s

    def set_timesteps(self, n: int, spacing: str = "leading") -> None:
        T = self.T
        if not 1 <= n <= T:
            raise ValueError(f"the number of steps must be in [1, {T}], got {n}")
        if spacing == "leading":
            ts = [i * (T // n) for i in range(n - 1, -1, -1)]
        elif spacing == "trailing":
            ts = [int(round(T - i * (T / n))) - 1 for i in range(n)]  # round: half to even, as nearbyint
        elif spacing == "linspace":
            step = (T - 1) / (n - 1) if n > 1 else 0.0
            ts = [int(round(i * step)) for i in range(n - 1, -1, -1)]
        else:
            raise ValueError(f"unknown spacing {spacing!r}")
        self.timesteps = ts

    def _prev(self, i: int) -> float:
        """abar at the timestep after index i of the timesteps list, None after the last."""
        return self.alphas_cumprod[self.timesteps[i + 1]] if i + 1 < len(self.timesteps) else None

    def predict_x0(self, eps: torch.Tensor, t: int, x: torch.Tensor) -> torch.Tensor:
        ab = self.alphas_cumprod[t]
        x0 = (x - eps * math.sqrt(1 - ab)) * (1 / math.sqrt(ab))
        return x0.clamp(-1.0, 1.0) if self.clip_sample else x0

    def ddim_step(self, eps: torch.Tensor, i: int, x: torch.Tensor, eta: float,
                  gen: torch.Generator) -> torch.Tensor:
        t = self.timesteps[i]
        ab = self.alphas_cumprod[t]
        ab_prev = self._prev(i)
        if ab_prev is None:
            ab_prev = self.final_alpha_cumprod
        x0 = self.predict_x0(eps, t, x)
        if self.clip_sample:  # the eps consistent with the clipped x0
            eps = (x - x0 * math.sqrt(ab)) * (1 / math.sqrt(1 - ab))
        var = (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)
        sigma = eta * math.sqrt(max(var, 0.0))
        out = x0 * math.sqrt(ab_prev) + eps * math.sqrt(max(1 - ab_prev - sigma * sigma, 0.0))
        if eta > 0 and sigma > 0:
            out = out + torch.randn(x.shape, generator=gen) * sigma
        return out

    def ddpm_step(self, eps: torch.Tensor, i: int, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        t = self.timesteps[i]
        ab = self.alphas_cumprod[t]
        ab_prev = self._prev(i)
        last = ab_prev is None
        if last:
            ab_prev = 1.0
        beta = 1 - ab / ab_prev
        alpha = ab / ab_prev
        coef1 = math.sqrt(ab_prev) * beta / (1 - ab)
        coef2 = math.sqrt(alpha) * (1 - ab_prev) / (1 - ab)
        mean = self.predict_x0(eps, t, x) * coef1 + x * coef2
        if last:
            return mean
        var = max((1 - ab_prev) / (1 - ab) * beta, 1e-20)  # "fixed_small"
        return mean + torch.randn(x.shape, generator=gen) * math.sqrt(var)


def model_output(unet: UNet, x: torch.Tensor, t: int, labels: Optional[torch.Tensor],
                 guidance: float) -> torch.Tensor:
    """The (guided) prediction at timestep t, as genmodel's DDPM::model_output."""
    b = x.shape[0]
    tt = torch.full((b,), t, dtype=torch.int64)
    if not unet.conditional:
        return unet(x, tt)
    null = torch.full((b,), NULL_LABEL, dtype=torch.int64)
    if labels is None:
        return unet(x, tt, null)
    if guidance == 1.0:
        return unet(x, tt, labels)
    both = unet(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
    cond, uncond = both[:b], both[b:]
    return uncond + (cond - uncond) * guidance


@torch.no_grad()
def sample_batch(unet: UNet, schedule: NoiseSchedule, n: int, sampler: str, steps: int, eta: float,
                 guidance: float, labels: Optional[torch.Tensor], gen: torch.Generator,
                 spacing: str = "leading") -> torch.Tensor:
    """n images (n, 1, 32, 32) from x_T ~ N(0, I), in eval mode."""
    was_training = unet.training
    unet.eval()
    try:
        if sampler == "ddpm":
            schedule.set_timesteps(schedule.T, "leading")  # T-1, ..., 0
        else:
            schedule.set_timesteps(steps, spacing)
        x = torch.randn((n, 1, IMAGE_SIZE, IMAGE_SIZE), generator=gen)
        for i, t in enumerate(schedule.timesteps):
            eps = model_output(unet, x, t, labels, guidance)
            x = (schedule.ddpm_step(eps, i, x, gen) if sampler == "ddpm"
                 else schedule.ddim_step(eps, i, x, eta, gen))
        return x
    finally:
        unet.train(was_training)


def sample_pixels(unet: UNet, schedule: NoiseSchedule, n: int, args, seed: int, chunk: int,
                  log: bool = True):
    """n samples as uint8 (n, 28, 28), the centre crop of the 32x32 outputs; labels 0..9 cycling."""
    gen = torch.Generator().manual_seed(seed)

    def draw(labels: torch.Tensor) -> np.ndarray:
        x = sample_batch(unet, schedule, len(labels), args.sampler, args.sample_steps, args.eta,
                         args.guidance, labels if unet.conditional else None, gen)
        return to_pixels(x[:, :, PAD:PAD + 28, PAD:PAD + 28], "symmetric")
    return sample_in_chunks(n, chunk, draw, log)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

class Trainer:
    """The U-Net, its Adam optimizer, the EMA copy and one training step (genmodel's DDPM::train_step)."""

    def __init__(self, conditional: bool, seed: int = 0, lr: float = 2e-4, ema_decay: float = 0.999,
                 label_dropout: float = 0.1, grad_clip: float = 0.0, channels: Sequence[int] = CHANNELS) -> None:
        self.unet = UNet(conditional, channels)
        self.ema = copy.deepcopy(self.unet)
        self.ema.requires_grad_(False)
        self.ema_decay = ema_decay
        self.label_dropout = label_dropout
        self.grad_clip = grad_clip
        self.schedule = NoiseSchedule()
        self.opt = torch.optim.Adam(self.unet.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        # the training stream, on the default device (the GPU under bench --device cuda)
        self.gen = torch.Generator(device=torch.empty(0).device).manual_seed(seed)
        self._params = list(self.unet.parameters())
        self._shadow = list(self.ema.parameters())
        self.ema_updates = 0

    def loss(self, x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        b = x0.shape[0]
        t = torch.randint(0, self.schedule.T, (b,), generator=self.gen)
        noise = torch.randn(x0.shape, generator=self.gen)
        x_t = self.schedule.add_noise(x0, noise, t)
        y = None
        if self.unet.conditional:
            y = labels.clone()
            if self.label_dropout > 0:
                drop = torch.rand(b, generator=self.gen) < self.label_dropout
                y[drop] = NULL_LABEL
        return F.mse_loss(self.unet(x_t, t, y), noise)

    def step(self, x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(x0, labels)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._params, self.grad_clip)
        self.opt.step()
        # shadow += (1 - decay) (w - shadow), decay warmed up as in diffusers' EMAModel
        k = self.ema_updates
        decay = min(self.ema_decay, (1 + k) / (10 + k))
        with torch.no_grad():
            for s, p in zip(self._shadow, self._params):
                s.lerp_(p, 1.0 - decay)
        self.ema_updates += 1
        return loss.detach()


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------

def bench_one(m: str, t: int, args) -> Dict[str, object]:
    """Times one (model, threads) configuration; run in a fresh process (see cmd_bench)."""
    set_threads(t)
    use_device(args)
    torch.manual_seed(0)
    trainer = Trainer(MODELS[m], seed=0)
    next_batch = random_batches(args.batch, (1, IMAGE_SIZE, IMAGE_SIZE), 4,
                                torch.Generator().manual_seed(1), "symmetric", first=1)

    def step():
        return trainer.step(*next_batch())

    # resident-set growth: the first steps (allocator warm-up, oneDNN primitives,
    # Adam's moments, autograd buffers), then the timed ones
    reset_peak_rss()
    rss0 = rss_kib() or 0
    time_steps(step, args.warmup)
    rss_first = peak_rss_kib() - rss0
    reset_peak_rss()
    rss1 = rss_kib() or 0
    times = time_steps(step, args.steps)
    rss_timed = peak_rss_kib() - rss1
    r = bench_record(m, t, args.batch, times, rss_before_mib=round(rss0 / 1024, 1),
                     rss_growth_first_steps_mib=round(rss_first / 1024, 1),
                     rss_growth_timed_steps_mib=round(rss_timed / 1024, 1))
    if args.sample:
        labels = (torch.arange(args.sample_batch) % N_CLASSES) if MODELS[m] else None
        t0 = time.perf_counter()
        sample_batch(trainer.ema, trainer.schedule, args.sample_batch, "ddim", args.sample_steps,
                     0.0, args.guidance, labels, torch.Generator().manual_seed(2))
        r.update({"sample_s": round(time.perf_counter() - t0, 3), "sample_images": args.sample_batch,
                  "sample_steps": args.sample_steps, "guidance": args.guidance})
    log_median(m, t, times, f", DDIM-{args.sample_steps} x {args.sample_batch} in {r['sample_s']:.2f} s"
               if args.sample else "")
    return r


def cmd_bench(args) -> None:
    print_config()
    models, threads = bench_grid(args, MODELS)
    results = []
    # Each configuration in a fresh (spawned) process, so that its RSS figures do not
    # start from the memory an earlier one left with the allocator.
    ctx = multiprocessing.get_context("spawn")
    for m in models:
        for t in threads:
            if args.in_process:
                results.append(bench_one(m, t, args))
                continue
            with ctx.Pool(1) as worker:
                results.append(worker.apply(bench_one, (m, t, args)))

    columns = [("RSS MiB", ">8", "rss_before_mib", ".1f"),
               ("+first", ">7", "rss_growth_first_steps_mib", ".1f"),
               ("+timed", ">7", "rss_growth_timed_steps_mib", ".1f")]
    footer = None
    if args.sample:
        columns.append(("sample s", ">9", "sample_s", ".2f"))
        footer = (f"sample s: DDIM-{args.sample_steps} ('leading', eta 0) of {args.sample_batch} images, "
                  f"EMA weights, guidance {args.guidance} for cddpm (2B-row forwards when it is not 1)")
    print_bench_results(args, "(ddpm: unconditional, cddpm: class-conditional); RSS growth = peak during "
                        "the steps minus the RSS before them", results, model_width=6, rate=(">7", ".1f"),
                        extra=columns, footer=footer)


# --------------------------------------------------------------------------
# train and sample
# --------------------------------------------------------------------------

def check_sampling_args(args) -> None:
    if args.samples > 0 and not args.samples_out:
        sys.exit("--samples N needs --samples-out FILE (or pass --samples 0)")
    if not 1 <= args.sample_steps <= 1000:
        sys.exit("--sample-steps must be in [1, 1000]")
    if args.eta < 0:
        sys.exit("--eta must be >= 0")
    if args.sample_batch < 1:
        sys.exit("--sample-batch must be at least 1")


def write_outputs(unet: UNet, schedule: NoiseSchedule, args) -> Dict[str, float]:
    """The --samples-out file (and .labels) and --out DIR's PNG; returns the sampling seconds."""
    schedule.clip_sample = args.clip_sample
    seconds = 0.0
    if args.samples > 0:
        what = (f"DDIM-{args.sample_steps} (eta {args.eta})" if args.sampler == "ddim"
                else "DDPM ancestral over 1000 steps") + (", x0 clipped" if args.clip_sample else "")
        print(f"sampling {args.samples} images: {what}"
              + (f", guidance {args.guidance}" if unet.conditional else ""), flush=True)
        t0 = time.perf_counter()
        pixels, labels = sample_pixels(unet, schedule, args.samples, args, args.seed + 1, args.sample_batch)
        seconds = time.perf_counter() - t0
        write_samples(args.samples_out, pixels, labels if unet.conditional else None)
    if args.out:
        save_grid(args.out, sample_pixels(unet, schedule, 64, args, args.seed + 2, 64, log=False)[0])
    return {"sample_s": round(seconds, 2)}


def cmd_train(args) -> None:
    check_sampling_args(args)
    if args.guidance != 1.0 and not args.conditional:
        print("note: --guidance applies to --conditional models only; ignored", file=sys.stderr)
    print_config()
    set_threads(args.threads)
    torch.manual_seed(args.seed)

    t_load = time.perf_counter()
    x, y = load_fashion_mnist(args.data, "train", "symmetric", pad=PAD)
    print(f"loaded {x.shape[0]} training images ({tuple(x.shape[1:])}, padded with -1) from {args.data} in "
          f"{time.perf_counter() - t_load:.1f} s", flush=True)

    name = "cddpm" if args.conditional else "ddpm"
    trainer = Trainer(args.conditional, seed=args.seed, grad_clip=args.grad_clip, channels=args.channels)
    n_params = sum(p.numel() for p in trainer.unet.parameters())
    print(f"model {name} (U-Net {'/'.join(map(str, args.channels))}): {n_params} parameters; batch {args.batch}, "
          f"threads {args.threads}, seed {args.seed}, limit {args.seconds} s"
          + (f" / {args.steps} steps" if args.steps else ""), flush=True)

    loss_avg = None

    def train_step(next_batch) -> float:
        nonlocal loss_avg
        loss = float(trainer.step(*next_batch()))
        loss_avg = loss if loss_avg is None else 0.98 * loss_avg + 0.02 * loss
        return loss

    step, seconds, loss = train_loop(
        args, x, y, train_step,
        lambda loss, rate: f"loss {loss:.5f} (avg {loss_avg:.5f})  {rate:6.1f} img/s")
    if loss is None:
        loss = float("nan")
    print(f"steps {step} in {seconds:.1f} s; final loss {loss:.5f} (running avg "
          f"{loss_avg if loss_avg is not None else float('nan'):.5f})", flush=True)

    if args.save:
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        torch.save(trainer.ema.state_dict(), args.save)
        print(f"saved the EMA weights to {args.save}", flush=True)

    sampled = write_outputs(trainer.ema, trainer.schedule, args)
    summary = {"model": name, "steps": step, "seconds": round(seconds, 2), "threads": args.threads,
               "batch": args.batch, "seed": args.seed, "channels": list(args.channels),
               "img_per_s": round(step * args.batch / max(seconds, 1e-9), 2),
               "loss": loss, "loss_avg": loss_avg, "samples": args.samples, "sampler": args.sampler,
               "sample_steps": args.sample_steps if args.sampler == "ddim" else 1000, "eta": args.eta,
               "clip_sample": args.clip_sample, "guidance": args.guidance if args.conditional else None, **sampled,
               "torch": torch.__version__}
    print(json.dumps(summary))


def cmd_sample(args) -> None:
    check_sampling_args(args)
    print_config()
    set_threads(args.threads)
    state = torch.load(args.load, map_location="cpu")
    if not isinstance(state, dict) or "conv_in.weight" not in state:
        sys.exit(f"{args.load}: not a state dict saved by `torch_ddpm.py train --save`")
    conditional = "class_embedding.weight" in state
    channels = []  # the widths, read off the saved weights
    while f"down.{len(channels)}.res.0.conv1.weight" in state:
        channels.append(state[f"down.{len(channels)}.res.0.conv1.weight"].shape[0])
    unet = UNet(conditional, channels)
    unet.load_state_dict(state)
    print(f"loaded {'conditional' if conditional else 'unconditional'} EMA weights from {args.load}", flush=True)
    if args.guidance != 1.0 and not conditional:
        print("note: --guidance applies to conditional models only; ignored", file=sys.stderr)
    sampled = write_outputs(unet, NoiseSchedule(), args)
    print(json.dumps({"model": "cddpm" if conditional else "ddpm", "load": args.load, "channels": channels,
                      "samples": args.samples, "sampler": args.sampler,
                      "sample_steps": args.sample_steps if args.sampler == "ddim" else 1000, "eta": args.eta,
                      "clip_sample": args.clip_sample, "guidance": args.guidance if conditional else None,
                      "threads": args.threads, "seed": args.seed, **sampled, "torch": torch.__version__}))


def parse_channels(text: str) -> Tuple[int, ...]:
    widths = tuple(int(w) for w in text.split(","))
    if not widths or any(w <= 0 or w % GROUPS for w in widths):
        raise argparse.ArgumentTypeError(f"{text!r}: widths must be positive multiples of {GROUPS}")
    return widths


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim")
    p.add_argument("--sample-steps", type=int, default=50, help="DDIM steps ('leading' spacing); ddpm uses all 1000")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta (0: deterministic)")
    p.add_argument("--clip-sample", action=argparse.BooleanOptionalAction, default=True,
                   help="clip the x0 prediction to [-1, 1] at every sampling step (diffusers' clip_sample)")
    p.add_argument("--guidance", type=float, default=1.0,
                   help="classifier-free guidance scale s (conditional models; 1: conditional only)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="samples use seed + 1 (the PNG seed + 2)")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--samples-out", default=None, metavar="FILE")
    p.add_argument("--sample-batch", type=int, default=250, help="images per sampling batch")
    p.add_argument("--out", default=None, metavar="DIR", help="also write DIR/samples.png (needs Pillow)")


def main(argv=None) -> None:
    parser, sub = make_parser(__doc__)

    b = sub.add_parser("bench", help="time one training step (ddpm, cddpm) and, with --sample, DDIM sampling")
    add_bench_args(b, models="ddpm,cddpm", warmup=2, steps=10)
    b.add_argument("--sample", action="store_true", help="also time DDIM sampling of --sample-batch images")
    b.add_argument("--sample-steps", type=int, default=50)
    b.add_argument("--sample-batch", type=int, default=64)
    b.add_argument("--guidance", type=float, default=1.0, help="guidance scale of cddpm's timed sampling")
    b.add_argument("--in-process", action="store_true",
                   help="run every configuration in this process (RSS figures then overlap)")
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train on Fashion-MNIST and write samples (EMA weights)")
    t.add_argument("--conditional", action="store_true", help="class-conditional, for classifier-free guidance")
    add_limit_args(t)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--grad-clip", type=float, default=0.0, help="clip_grad_norm_ before each step (0: off)")
    t.add_argument("--data", default=DEFAULT_DATA)
    t.add_argument("--save", default=None, metavar="FILE", help="torch.save the EMA state dict here")
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--channels", type=parse_channels, default=CHANNELS,
                   help="U-Net widths per level, comma-separated (each a multiple of 8; ddpm's --channels)")
    add_sampling_args(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write samples from EMA weights saved by train --save")
    s.add_argument("--load", required=True, metavar="FILE")
    add_sampling_args(s)
    s.set_defaults(func=cmd_sample)

    args = parser.parse_args(argv)
    require_at_least_one(args, {"train": ("batch", "threads"), "sample": ("threads",),
                                "bench": ("batch",)}[args.command])
    if args.command == "bench" and (args.steps < 1 or args.warmup < 0 or args.sample_batch < 1
                                    or not 1 <= args.sample_steps <= 1000):
        sys.exit("--steps and --sample-batch must be at least 1, --warmup at least 0, "
                 "--sample-steps in [1, 1000]")
    args.func(args)


if __name__ == "__main__":
    main()
