#!/usr/bin/env python3
"""scorelab against the same work in PyTorch eager Python, interleaved in one run.

For each thread count and workload, the Python version and scorelab's (benchmarks/
workloads_bench, through the code path a run uses) run alternately, each in a fresh process,
`--repeats` times; the table shows medians, the ratio Python / scorelab (above 1: scorelab is
faster), the GEMM rate measured in the same run at the same thread count (1024^2 float32
matmul) and each workload's model FLOPs utilisation (MFU = model FLOP/s / that GEMM rate).
Debian's python3-torch is the same libtorch 1.13 as scorelab's.

    python3 benchmarks/vs_pytorch.py --bench build/workloads_bench [--threads 1 2] [--repeats 3]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = [  # name, scorelab benchmark (without /threads), unit of one timed iteration
    ("mlp_train_512", "BM_MLPTrainStep/512", "step"),
    ("mlp_train_64", "BM_MLPTrainStep/64", "step"),
    ("score_eval_10k", "BM_ScoreEval", "call"),
    ("em_1000_steps_10k", "BM_EMSampling", "run"),
    ("oracle_16d_em200_1k", "BM_OracleSampling", "run"),
    ("unet_train_64", "BM_UNetTrainStep", "step"),
    ("unet_ddim50_64", "BM_DDIM50", "run"),
]
LONG = {"em_1000_steps_10k", "unet_ddim50_64"}  # one timed iteration each

# ----------------------------------------------------------------------------- Python side


def python_workload(name, threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    b0, b1 = 0.1, 20.0

    def vp_alpha(t):
        return torch.exp(-0.25 * t * t * (b1 - b0) - 0.5 * t * b0)

    def vp_sigma(t):
        return torch.sqrt(1 - vp_alpha(t) ** 2)

    class MLP(nn.Module):  # x ⊕ 128-d sinusoidal embedding of 1000 t -> 256 x3 -> 2, SiLU
        def __init__(self):
            super().__init__()
            layers, d = [], 2 + 128
            for _ in range(3):
                layers += [nn.Linear(d, 256), nn.SiLU()]
                d = 256
            layers.append(nn.Linear(256, 2))
            self.body = nn.Sequential(*layers)

        def forward(self, x, t):
            return self.body(torch.cat([x, sinusoidal(1000 * t, 128)], 1))

    def eight_gaussians(n):
        k = torch.randint(0, 8, (n,))
        angle = k * (2 * math.pi / 8)
        return 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], 1) + 0.2 * torch.randn(n, 2)

    def timed(fn, iters, warmup):
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) / iters

    def trainer(model, batch_fn, loss_fn, lr):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        ema = [p.detach().clone() for p in model.parameters()]

        def step():
            loss = loss_fn(model, batch_fn())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.lerp_(p, 1 - 0.999)

        return step

    def dsm_loss(model, x0):
        t = 1e-5 + (1 - 1e-5) * torch.rand(x0.shape[0])
        z = torch.randn_like(x0)
        xt = vp_alpha(t)[:, None] * x0 + vp_sigma(t)[:, None] * z
        return ((model(xt, t) - z) ** 2).sum(1).mean()

    if name.startswith("mlp_train_"):
        bs = int(name.split("_")[-1])
        step = trainer(MLP(), lambda: eight_gaussians(bs), dsm_loss, 2e-3)
        return timed(step, 200 if bs == 512 else 500, 20)

    if name == "score_eval_10k":
        model = MLP().eval()
        x, t = torch.randn(10000, 2), torch.full((10000,), 0.5)
        with torch.no_grad():
            return timed(lambda: -model(x, t) / vp_sigma(t)[:, None], 50, 5)

    if name == "em_1000_steps_10k":
        model = MLP().eval()

        def run():
            x = torch.randn(10000, 2)
            ts = torch.linspace(1.0, 1e-3, 1001)
            with torch.no_grad():
                for k in range(1000):
                    t, dt = ts[k].item(), (ts[k] - ts[k + 1]).item()
                    tt = torch.full((10000,), t)
                    score = -model(x, tt) / vp_sigma(tt)[:, None]
                    beta = b0 + t * (b1 - b0)
                    x_mean = x - (-0.5 * beta * x - beta * score) * dt
                    x = x_mean if k == 999 else x_mean + math.sqrt(beta * dt) * torch.randn_like(x)
            return x

        return timed(run, 1, 0)

    if name == "oracle_16d_em200_1k":
        means = torch.tensor([[2.0 if (k >> (d % 3)) & 1 else -2.0 for d in range(16)] for k in range(8)], dtype=torch.float64)
        s2 = 0.25

        def score(x, t):  # exact score of the perturbed isotropic mixture
            a, sg = vp_alpha(t)[:, None], vp_sigma(t)[:, None]
            var = a * a * s2 + sg * sg  # [B, 1]
            diff = a[:, None, :] * means[None] - x[:, None, :]  # [B, K, D]
            logp = -0.5 * (diff ** 2).sum(-1) / var - 0.5 * 16 * torch.log(var)
            r = torch.softmax(logp, 1)
            return (r[..., None] * diff).sum(1) / var

        def run():
            x = torch.randn(1000, 16, dtype=torch.float64).float()
            ts = torch.linspace(1.0, 1e-3, 201)
            with torch.no_grad():
                for k in range(200):
                    t, dt = ts[k].item(), (ts[k] - ts[k + 1]).item()
                    tt = torch.full((1000,), t, dtype=torch.float64)
                    s = score(x.double(), tt).float()
                    beta = b0 + t * (b1 - b0)
                    x_mean = x - (-0.5 * beta * x - beta * s) * dt
                    x = x_mean if k == 199 else x_mean + math.sqrt(beta * dt) * torch.randn_like(x)
            return x

        return timed(run, 3, 1)

    UNet = unet_class()

    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float()

    if name == "unet_train_64":
        images = fashion_mnist()

        def batch():
            idx = torch.randint(0, images.shape[0], (64,))
            return images[idx].float() / 127.5 - 1

        def ddpm_loss(model, x0):
            i = torch.randint(1, 1001, (x0.shape[0],))
            ab = abar[i - 1][:, None, None, None]
            z = torch.randn_like(x0)
            return ((model(ab.sqrt() * x0 + (1 - ab).sqrt() * z, i) - z) ** 2).sum((1, 2, 3)).mean()

        model = UNet().train()
        return timed(trainer(model, batch, ddpm_loss, 5e-4), 10, 2)

    if name == "unet_ddim50_64":
        model = UNet().eval()

        def run():
            x = torch.randn(64, 1, 28, 28)
            seq = [int(k / 50 * 1000) + 1 for k in range(50)][::-1]
            with torch.no_grad():
                for j, i in enumerate(seq):
                    ab_t = abar[i - 1]
                    ab_s = abar[seq[j + 1] - 1] if j + 1 < len(seq) else torch.tensor(1.0)
                    eps = model(x, torch.full((64,), i))
                    x0 = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
                    x = ab_s.sqrt() * x0 + (1 - ab_s).sqrt() * eps
            return x

        return timed(run, 1, 0)
    raise SystemExit("unknown workload " + name)


def sinusoidal(t, dim):
    import torch

    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=t.dtype) / max(half - 1, 1))
    args = t[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], 1)


def unet_class():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    # --- the DDPM U-Net of fmnist_ddpm.yaml (networks/unet.cpp, layer for layer)
    def gn(c):
        return nn.GroupNorm(min(8, c), c, eps=1e-6)

    class ResBlock(nn.Module):
        def __init__(self, cin, cout, temb):
            super().__init__()
            self.norm1, self.conv1 = gn(cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.temb_proj = nn.Linear(temb, cout)
            self.norm2, self.drop, self.conv2 = gn(cout), nn.Dropout(0.1), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

        def forward(self, x, temb):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
            h = self.conv2(self.drop(F.silu(self.norm2(h))))
            return (self.skip(x) if self.skip is not None else x) + h

    class Attn(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm = gn(c)
            self.q, self.k, self.v, self.proj = (nn.Conv2d(c, c, 1) for _ in range(4))

        def forward(self, x):
            B, C, H, W = x.shape
            h = self.norm(x)
            q = self.q(h).reshape(B, C, H * W).transpose(1, 2)
            k = self.k(h).reshape(B, C, H * W)
            v = self.v(h).reshape(B, C, H * W).transpose(1, 2)
            w = torch.softmax(torch.bmm(q, k) / math.sqrt(C), -1)
            return x + self.proj(torch.bmm(w, v).transpose(1, 2).reshape(B, C, H, W))

    class UNet(nn.Module):  # ch 32, ch_mult [1, 2, 2], 1 res block, attention at 7x7
        def __init__(self, ch=32, mult=(1, 2, 2), res=28):
            super().__init__()
            self.ch, temb = ch, 4 * ch
            self.temb0, self.temb1 = nn.Linear(ch, temb), nn.Linear(temb, temb)
            self.conv_in = nn.Conv2d(1, ch, 3, padding=1)
            self.down, kinds, skips, cur = nn.ModuleList(), [], [ch], ch
            for i, m in enumerate(mult):
                self.down.append(ResBlock(cur, ch * m, temb)); kinds.append("r"); cur = ch * m
                if res == 7:
                    self.down.append(Attn(cur)); kinds.append("a")
                skips.append(cur)
                if i + 1 < len(mult):
                    self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1)); kinds.append("d"); skips.append(cur); res //= 2
            self.down_kinds = kinds
            self.mid1, self.mid_attn, self.mid2 = ResBlock(cur, cur, temb), Attn(cur), ResBlock(cur, cur, temb)
            self.up, kinds = nn.ModuleList(), []
            for i in reversed(range(len(mult))):
                for _ in range(2):
                    self.up.append(ResBlock(cur + skips.pop(), ch * mult[i], temb)); kinds.append("r"); cur = ch * mult[i]
                    if res == 7:
                        self.up.append(Attn(cur)); kinds.append("a")
                if i > 0:
                    self.up.append(nn.Conv2d(cur, cur, 3, padding=1)); kinds.append("u"); res *= 2
            self.up_kinds = kinds
            self.norm_out, self.conv_out = gn(cur), nn.Conv2d(cur, 1, 3, padding=1)

        def forward(self, x, c):
            temb = self.temb1(F.silu(self.temb0(sinusoidal(c.to(x.dtype), self.ch))))
            hs = [self.conv_in(x)]
            h = hs[-1]
            for i, (kind, m) in enumerate(zip(self.down_kinds, self.down)):
                if kind == "r":
                    h = m(h, temb)
                    if i + 1 >= len(self.down_kinds) or self.down_kinds[i + 1] != "a":
                        hs.append(h)
                else:
                    h = m(h)
                    hs.append(h)
            h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
            for kind, m in zip(self.up_kinds, self.up):
                if kind == "r":
                    h = m(torch.cat([h, hs.pop()], 1), temb)
                elif kind == "a":
                    h = m(h)
                else:
                    h = m(F.interpolate(h, scale_factor=2, mode="nearest"))
            return self.conv_out(F.silu(self.norm_out(h)))


    return UNet


def fashion_mnist():
    import gzip

    import numpy as np
    import torch

    path = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte"
    raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).copy())


def gemm_gflops(threads):
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * 1024 ** 3 / statistics.median(times) / 1e9


def model_flops(name):
    """FLOPs of one timed iteration (forward = 2 x MACs; a training step = 3 forwards)."""
    mlp = 2 * (130 * 256 + 2 * 256 * 256 + 256 * 2)  # per point
    if name == "mlp_train_512":
        return 3 * 512 * mlp
    if name == "mlp_train_64":
        return 3 * 64 * mlp
    if name == "score_eval_10k":
        return 10000 * mlp
    if name == "em_1000_steps_10k":
        return 1000 * 10000 * mlp
    if name in ("unet_train_64", "unet_ddim50_64"):
        f = unet_forward_flops(64)
        return 3 * f if name == "unet_train_64" else 50 * f
    return None  # the oracle is not a matrix workload


def unet_forward_flops(batch):
    out = subprocess.run([sys.executable, __file__, "--unet-flops", str(batch)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def count_unet_flops(batch):
    import torch
    import torch.nn as nn

    total = [0.0]

    def conv_hook(m, inp, out):
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    torch.set_num_threads(1)
    model = unet_class()().eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(lin_hook)
    with torch.no_grad():
        model(torch.randn(batch, 1, 28, 28), torch.full((batch,), 500))
    # attention: q k^T and w v at 7x7 (three blocks: down, mid, up x2 at 7x7) added analytically
    hw, c = 49, 64
    n_attn = sum(1 for m in model.modules() if type(m).__name__ == "Attn")
    total[0] += n_attn * batch * 2 * (2 * hw * hw * c)
    return total[0]


# ----------------------------------------------------------------------------- runner


def run_python(name, threads):
    out = subprocess.run([sys.executable, __file__, "--python", name, str(threads)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def run_scorelab(bench, bm, threads):
    args = [bench, "--benchmark_filter=^" + bm + "/" + str(threads) + "(/|$)", "--benchmark_format=json"]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    rows = json.loads(out.stdout)["benchmarks"]
    if not rows:
        raise SystemExit("no benchmark matched " + bm)
    return rows[0]["real_time"] / 1e3  # ms -> s


def fmt_time(s):
    return "%.3g ms" % (s * 1e3) if s < 1 else "%.3g s" % s


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--python":
        print(python_workload(sys.argv[2], int(sys.argv[3])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--unet-flops":
        print(count_unet_flops(int(sys.argv[2])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/workloads_bench")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per side (1 for the long workloads)")
    ap.add_argument("--only", nargs="*", help="workload names (default: all)")
    a = ap.parse_args()
    names = [w for w in WORKLOADS if not a.only or w[0] in a.only]
    print("| threads | workload | unit | PyTorch eager | scorelab | ratio (Py/sl) | GEMM GFLOP/s | MFU Py | MFU sl |")
    print("|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()
    for threads in a.threads:
        gemm = gemm_gflops(threads)
        for name, bm, unit in names:
            reps = 1 if name in LONG else a.repeats
            py, sl = [], []
            for _ in range(reps):  # interleaved
                py.append(run_python(name, threads))
                sl.append(run_scorelab(a.bench, bm, threads))
            p, s = statistics.median(py), statistics.median(sl)
            fl = model_flops(name)
            mfu = (lambda t: "%.0f%%" % (100 * fl / t / 1e9 / gemm)) if fl else (lambda t: "n/a")
            print("| %d | %s | %s | %s | %s | %.2fx | %.0f | %s | %s |" % (threads, name, unit, fmt_time(p), fmt_time(s),
                                                                          p / s, gemm, mfu(p), mfu(s)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
