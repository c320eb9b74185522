"""Fused sequential kernels for SpikeGPT training: the RWKV-4 WKV recurrence and the multi-step
LIF neuron, each as one CUDA thread per (batch, channel) walking over the T tokens.

Why: both are recurrences over the sequence. In plain PyTorch each token costs several kernel
launches (T = 256 tokens x 6 blocks x (1 WKV + 2 LIF) x forward+backward = tens of thousands of
launches per step); one fused kernel per call keeps a training step at a few milliseconds.

The CUDA code is compiled on first use with torch.utils.cpp_extension.load_inline (needs nvcc
and ninja; the device machine has both). On CPU, or when the build fails, callers use the plain
PyTorch reference implementations (`wkv_reference`, common.lif_multistep), which are also what
the self-tests compare the kernels against. Layout of every sequence tensor: [B, T, C],
contiguous. Kernels are templated on float/double (double is used by the tests).

WKV, numerically stable form (state per channel: aa, bb scaled by exp(-pp)):
    w = -exp(time_decay), u = time_first, initial aa = bb = 0, pp = -1e38
    for t:  q  = max(pp, u + k_t);  e1 = exp(pp - q);  e2 = exp(u + k_t - q)
            y_t = (e1*aa + e2*v_t) / (e1*bb + e2)
            q' = max(w + pp, k_t);  e1 = exp(w + pp - q');  e2 = exp(k_t - q')
            aa = e1*aa + e2*v_t;  bb = e1*bb + e2;  pp = q'

Backward (derived here, not taken from the RWKV kernels). With unscaled state a_t = aa_t e^pp_t,
b_t = bb_t e^pp_t (state *before* token t), num_t = a_t + e^(u+k_t) v_t, den_t = b_t + e^(u+k_t):
    dL/da_t = g_t/den_t + e^w dL/da_{t+1},   dL/db_t = -g_t y_t/den_t + e^w dL/db_{t+1}
    dL/dv_t = g_t e^(u+k_t)/den_t + e^(k_t) dL/da_{t+1}
    dL/dk_t = g_t e^(u+k_t)(v_t - y_t)/den_t + e^(k_t) (v_t dL/da_{t+1} + dL/db_{t+1})
    dL/du   = sum_t g_t e^(u+k_t)(v_t - y_t)/den_t
    dL/dw   = sum_t e^w (a_t dL/da_{t+1} + b_t dL/db_{t+1});  dL/dtime_decay = dL/dw * w
The adjoints dL/da, dL/db are carried as (ga, gb) * exp(gm) (shared exponent, same trick as the
forward), so every exponential that is evaluated has a bounded argument. The forward saves the
per-token state (aa, bb, pp) for the backward pass (3 x B x T x C values).
"""

import os

import torch

from common import lif_multistep

_MIN_VALUE = -1e38

_CUDA_SRC = r"""
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>

namespace {

constexpr double kMinValue = -1e38;

template <typename F> __device__ __forceinline__ F mx(F a, F b) { return a > b ? a : b; }

// One thread per (b, c). s0/s1: [3, B, C] = (aa, bb, pp). hist (optional): [3, B, T, C].
template <typename F>
__global__ void wkv_forward_kernel(int B, int T, int C, const F* __restrict__ w,
                                   const F* __restrict__ u, const F* __restrict__ k,
                                   const F* __restrict__ v, const F* __restrict__ s0,
                                   F* __restrict__ y, F* __restrict__ hist, F* __restrict__ s1) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx % C;
  const size_t BC = (size_t)B * C, BTC = (size_t)B * T * C;
  const F ww = w[c], uu = u[c];
  F aa = s0[idx], bb = s0[BC + idx], pp = s0[2 * BC + idx];
  size_t i = (size_t)b * T * C + c;
  for (int t = 0; t < T; ++t, i += C) {
    if (hist != nullptr) { hist[i] = aa; hist[BTC + i] = bb; hist[2 * BTC + i] = pp; }
    const F kt = k[i], vt = v[i];
    F q = mx(pp, uu + kt);
    F e1 = exp(pp - q), e2 = exp(uu + kt - q);
    y[i] = (e1 * aa + e2 * vt) / (e1 * bb + e2);
    q = mx(ww + pp, kt);
    e1 = exp(ww + pp - q);
    e2 = exp(kt - q);
    aa = e1 * aa + e2 * vt;
    bb = e1 * bb + e2;
    pp = q;
  }
  s1[idx] = aa; s1[BC + idx] = bb; s1[2 * BC + idx] = pp;
}

// gw, gu: [B, C] partial sums (summed over B by the caller). gw is already d/d(time_decay).
template <typename F>
__global__ void wkv_backward_kernel(int B, int T, int C, const F* __restrict__ w,
                                    const F* __restrict__ u, const F* __restrict__ k,
                                    const F* __restrict__ v, const F* __restrict__ hist,
                                    const F* __restrict__ gy, F* __restrict__ gw,
                                    F* __restrict__ gu, F* __restrict__ gk, F* __restrict__ gv) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx % C;
  const size_t BTC = (size_t)B * T * C;
  const F ww = w[c], uu = u[c];
  F ga = 0, gb = 0, gm = (F)kMinValue;  // adjoint of (a_{t+1}, b_{t+1}) = (ga, gb) * exp(gm)
  F sgw = 0, sgu = 0;
  size_t i = (size_t)b * T * C + (size_t)(T - 1) * C + c;
  for (int t = T - 1; t >= 0; --t, i -= C) {
    const F aa = hist[i], bb = hist[BTC + i], pp = hist[2 * BTC + i];
    const F kt = k[i], vt = v[i], g = gy[i];
    const F q = mx(pp, uu + kt);
    const F e1 = exp(pp - q), e2 = exp(uu + kt - q);
    const F dd = e1 * bb + e2;            // den_t * exp(-q)
    const F yt = (e1 * aa + e2 * vt) / dd;
    const F gd = g * e2 / dd;             // g_t e^(u+k_t) / den_t
    F gvt = gd, gkt = gd * (vt - yt);
    sgu += gd * (vt - yt);
    const F ek = exp(kt + gm);            // e^(k_t) * exp(gm)
    gvt += ek * ga;
    gkt += ek * (vt * ga + gb);
    sgw += exp(ww + pp + gm) * (aa * ga + bb * gb);
    const F nm = mx(-q, ww + gm);
    const F f1 = exp(-q - nm), f2 = exp(ww + gm - nm);
    ga = g / dd * f1 + ga * f2;
    gb = -g * yt / dd * f1 + gb * f2;
    gm = nm;
    gk[i] = gkt;
    gv[i] = gvt;
  }
  gw[idx] = sgw * ww;  // w = -exp(time_decay)  =>  dw/dtime_decay = w
  gu[idx] = sgu;
}

// LIF, SpikingJelly semantics (decay_input, v_reset = 0, hard reset). h (optional): [B, T, C].
template <typename F>
__global__ void lif_forward_kernel(int B, int T, int C, const F* __restrict__ x,
                                   const F* __restrict__ v0, F* __restrict__ s,
                                   F* __restrict__ h, F* __restrict__ v1, F tau, F vth) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx % C;
  F vm = v0[idx];
  size_t i = (size_t)b * T * C + c;
  for (int t = 0; t < T; ++t, i += C) {
    const F H = vm + (x[i] - vm) / tau;
    const bool fire = (H - vth) >= (F)0;
    s[i] = fire ? (F)1 : (F)0;
    if (h != nullptr) h[i] = H;
    vm = fire ? (F)0 : H;
  }
  v1[idx] = vm;
}

// Backward with detach_reset: dV_t/dH_t = 1 - S_t, dH_t/dV_{t-1} = 1 - 1/tau, dH_t/dX_t = 1/tau.
template <typename F>
__global__ void lif_backward_kernel(int B, int T, int C, const F* __restrict__ h,
                                    const F* __restrict__ gs, F* __restrict__ gx, F tau, F vth,
                                    F alpha) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx % C;
  const F kHalfPi = (F)1.5707963267948966;
  F gV = 0;
  size_t i = (size_t)b * T * C + (size_t)(T - 1) * C + c;
  for (int t = T - 1; t >= 0; --t, i -= C) {
    const F m = h[i] - vth;
    const F z = kHalfPi * alpha * m;
    const F sg = (alpha / (F)2) / ((F)1 + z * z);
    const F S = m >= (F)0 ? (F)1 : (F)0;
    const F gH = gs[i] * sg + gV * ((F)1 - S);
    gx[i] = gH / tau;
    gV = gH * ((F)1 - (F)1 / tau);
  }
}

inline int blocks_for(int n, int threads) { return (n + threads - 1) / threads; }

void check_seq(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

}  // namespace

void wkv_forward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v,
                 torch::Tensor s0, torch::Tensor y, torch::Tensor hist, torch::Tensor s1,
                 bool save_hist) {
  check_seq(k, "k"); check_seq(v, "v"); check_seq(y, "y"); check_seq(s0, "s0");
  const int B = k.size(0), T = k.size(1), C = k.size(2);
  const int threads = std::min(C, 128);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "wkv_forward", [&] {
    wkv_forward_kernel<scalar_t><<<blocks_for(B * C, threads), threads, 0, stream>>>(
        B, T, C, w.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
        v.data_ptr<scalar_t>(), s0.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
        save_hist ? hist.data_ptr<scalar_t>() : nullptr, s1.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void wkv_backward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v,
                  torch::Tensor hist, torch::Tensor gy, torch::Tensor gw, torch::Tensor gu,
                  torch::Tensor gk, torch::Tensor gv) {
  check_seq(k, "k"); check_seq(gy, "gy"); check_seq(hist, "hist");
  const int B = k.size(0), T = k.size(1), C = k.size(2);
  const int threads = std::min(C, 128);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "wkv_backward", [&] {
    wkv_backward_kernel<scalar_t><<<blocks_for(B * C, threads), threads, 0, stream>>>(
        B, T, C, w.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(),
        v.data_ptr<scalar_t>(), hist.data_ptr<scalar_t>(), gy.data_ptr<scalar_t>(),
        gw.data_ptr<scalar_t>(), gu.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(),
        gv.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void lif_forward(torch::Tensor x, torch::Tensor v0, torch::Tensor s, torch::Tensor h,
                 torch::Tensor v1, double tau, double vth, bool save_h) {
  check_seq(x, "x"); check_seq(v0, "v0");
  const int B = x.size(0), T = x.size(1), C = x.size(2);
  const int threads = std::min(C, 128);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_forward", [&] {
    lif_forward_kernel<scalar_t><<<blocks_for(B * C, threads), threads, 0, stream>>>(
        B, T, C, x.data_ptr<scalar_t>(), v0.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(),
        save_h ? h.data_ptr<scalar_t>() : nullptr, v1.data_ptr<scalar_t>(), (scalar_t)tau,
        (scalar_t)vth);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void lif_backward(torch::Tensor h, torch::Tensor gs, torch::Tensor gx, double tau, double vth,
                  double alpha) {
  check_seq(h, "h"); check_seq(gs, "gs");
  const int B = h.size(0), T = h.size(1), C = h.size(2);
  const int threads = std::min(C, 128);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "lif_backward", [&] {
    lif_backward_kernel<scalar_t><<<blocks_for(B * C, threads), threads, 0, stream>>>(
        B, T, C, h.data_ptr<scalar_t>(), gs.data_ptr<scalar_t>(), gx.data_ptr<scalar_t>(),
        (scalar_t)tau, (scalar_t)vth, (scalar_t)alpha);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
"""

_CPP_DECL = r"""
void wkv_forward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v,
                 torch::Tensor s0, torch::Tensor y, torch::Tensor hist, torch::Tensor s1,
                 bool save_hist);
void wkv_backward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v,
                  torch::Tensor hist, torch::Tensor gy, torch::Tensor gw, torch::Tensor gu,
                  torch::Tensor gk, torch::Tensor gv);
void lif_forward(torch::Tensor x, torch::Tensor v0, torch::Tensor s, torch::Tensor h,
                 torch::Tensor v1, double tau, double vth, bool save_h);
void lif_backward(torch::Tensor h, torch::Tensor gs, torch::Tensor gx, double tau, double vth,
                  double alpha);
"""

_ext = None
_ext_error = None


def cuda_ext():
    """Compile (once per process; cached on disk by torch) and return the extension, or None."""
    global _ext, _ext_error
    if _ext is not None or _ext_error is not None:
        return _ext
    if not torch.cuda.is_available() or os.environ.get("QSLM_NO_CUDA_EXT"):
        _ext_error = "CUDA not available or disabled"
        return None
    try:
        from torch.utils.cpp_extension import load_inline
        if "TORCH_CUDA_ARCH_LIST" not in os.environ:
            major, minor = torch.cuda.get_device_capability()
            os.environ["TORCH_CUDA_ARCH_LIST"] = "%d.%d" % (major, minor)  # build only for us
        _ext = load_inline(name="qslm_spikegpt_kernels", cpp_sources=_CPP_DECL,
                           cuda_sources=_CUDA_SRC,
                           functions=["wkv_forward", "wkv_backward", "lif_forward",
                                      "lif_backward"],
                           extra_cuda_cflags=["-O3"], verbose=False)
    except Exception as e:  # noqa: BLE001 - report and fall back
        _ext_error = repr(e)
        print("[kernels] CUDA extension unavailable, using PyTorch fallback: %s" % _ext_error)
        _ext = None
    return _ext


# --------------------------------------------------------------------------------------------
# Reference (plain PyTorch) implementations; autograd differentiates them directly.
# --------------------------------------------------------------------------------------------

def wkv_init_state(B, C, dtype, device):
    return (torch.zeros(B, C, dtype=dtype, device=device),
            torch.zeros(B, C, dtype=dtype, device=device),
            torch.full((B, C), _MIN_VALUE, dtype=dtype, device=device))


def wkv_step(w, u, k, v, aa, bb, pp):
    """One token of the WKV recurrence (any leading batch shape). w = -exp(time_decay)."""
    q = torch.maximum(pp, u + k)
    e1 = torch.exp(pp - q)
    e2 = torch.exp(u + k - q)
    y = (e1 * aa + e2 * v) / (e1 * bb + e2)
    q2 = torch.maximum(w + pp, k)
    e1 = torch.exp(w + pp - q2)
    e2 = torch.exp(k - q2)
    return y, e1 * aa + e2 * v, e1 * bb + e2, q2


def wkv_reference(time_decay, time_first, k, v, state=None):
    """k, v: [B, T, C]; state: (aa, bb, pp) each [B, C] or None. Returns (y, new_state)."""
    B, T, C = k.shape
    w = -torch.exp(time_decay)
    aa, bb, pp = state if state is not None else wkv_init_state(B, C, k.dtype, k.device)
    ys = []
    for t in range(T):
        y, aa, bb, pp = wkv_step(w, time_first, k[:, t], v[:, t], aa, bb, pp)
        ys.append(y)
    return torch.stack(ys, 1), (aa, bb, pp)


# --------------------------------------------------------------------------------------------
# CUDA-backed autograd functions
# --------------------------------------------------------------------------------------------

class _WKVCuda(torch.autograd.Function):
    @staticmethod
    def forward(ctx, time_decay, time_first, k, v, aa0, bb0, pp0):
        ext = cuda_ext()
        B, T, C = k.shape
        k = k.contiguous()
        v = v.contiguous()
        w = (-torch.exp(time_decay)).to(k.dtype).contiguous()
        u = time_first.to(k.dtype).contiguous()
        s0 = torch.stack([aa0, bb0, pp0], 0).to(k.dtype).contiguous()
        y = torch.empty_like(k)
        s1 = torch.empty_like(s0)
        need_grad = any(ctx.needs_input_grad[:4])
        hist = torch.empty((3, B, T, C), dtype=k.dtype, device=k.device) if need_grad \
            else torch.empty(0, dtype=k.dtype, device=k.device)
        ext.wkv_forward(w, u, k, v, s0, y, hist, s1, need_grad)
        if need_grad:
            ctx.save_for_backward(w, u, k, v, hist)
        ctx.mark_non_differentiable(s1)
        return y, s1

    @staticmethod
    def backward(ctx, gy, _gs1):
        ext = cuda_ext()
        w, u, k, v, hist = ctx.saved_tensors
        B, T, C = k.shape
        gy = gy.contiguous().to(k.dtype)
        gw = torch.empty((B, C), dtype=k.dtype, device=k.device)
        gu = torch.empty_like(gw)
        gk = torch.empty_like(k)
        gv = torch.empty_like(v)
        ext.wkv_backward(w, u, k, v, hist, gy, gw, gu, gk, gv)
        # gradients w.r.t. the initial state are not needed (training starts from zeros)
        return gw.sum(0), gu.sum(0), gk, gv, None, None, None


class _LIFCuda(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, tau, vth, alpha):
        ext = cuda_ext()
        x = x.contiguous()
        s = torch.empty_like(x)
        need_grad = ctx.needs_input_grad[0]
        h = torch.empty_like(x) if need_grad else torch.empty(0, dtype=x.dtype, device=x.device)
        v1 = torch.empty_like(v0)
        ext.lif_forward(x, v0.contiguous(), s, h, v1, float(tau), float(vth), need_grad)
        if need_grad:
            ctx.save_for_backward(h)
        ctx.tau, ctx.vth, ctx.alpha = tau, vth, alpha
        ctx.mark_non_differentiable(v1)
        return s, v1

    @staticmethod
    def backward(ctx, gs, _gv1):
        ext = cuda_ext()
        (h,) = ctx.saved_tensors
        gx = torch.empty_like(h)
        ext.lif_backward(h, gs.contiguous().to(h.dtype), gx, float(ctx.tau), float(ctx.vth),
                         float(ctx.alpha))
        return gx, None, None, None, None


# --------------------------------------------------------------------------------------------
# Dispatchers used by the model
# --------------------------------------------------------------------------------------------

def use_cuda_kernels(t):
    return t.is_cuda and cuda_ext() is not None and not os.environ.get("QSLM_FORCE_REFERENCE")


def wkv(time_decay, time_first, k, v, state=None):
    """WKV over [B, T, C]; returns (y, (aa, bb, pp)). State is not differentiated."""
    if use_cuda_kernels(k):
        B, T, C = k.shape
        if state is None:
            state = wkv_init_state(B, C, k.dtype, k.device)
        y, s1 = _WKVCuda.apply(time_decay, time_first, k, v, *[s.detach() for s in state])
        return y, (s1[0], s1[1], s1[2])
    return wkv_reference(time_decay, time_first, k, v, state)


def lif_seq(x, v0=None, tau=2.0, vth=1.0, alpha=2.0):
    """Multi-step LIF over dim 1 of x [B, T, C] (the token dimension). Returns (spikes, v_last)."""
    if v0 is None:
        v0 = torch.zeros_like(x[:, 0])
    if use_cuda_kernels(x):
        return _LIFCuda.apply(x, v0.detach(), tau, vth, alpha)
    s, v = lif_multistep(x.transpose(0, 1), v0, tau, vth, alpha)
    return s.transpose(0, 1), v


def self_test_cuda(verbose=True):
    """Compare the CUDA kernels with the PyTorch references (values and gradients, float64)."""
    if cuda_ext() is None:
        print("[kernels] self-test skipped: no CUDA extension (%s)" % _ext_error)
        return True
    torch.manual_seed(0)
    dev = "cuda"
    ok = True
    for (B, T, C) in [(2, 17, 8), (3, 64, 32)]:
        td = torch.randn(C, dtype=torch.float64, device=dev, requires_grad=True)
        tf = torch.randn(C, dtype=torch.float64, device=dev, requires_grad=True)
        k = (3 * torch.randn(B, T, C, dtype=torch.float64, device=dev)).requires_grad_()
        v = torch.randn(B, T, C, dtype=torch.float64, device=dev, requires_grad=True)
        gy = torch.randn(B, T, C, dtype=torch.float64, device=dev)
        os.environ["QSLM_FORCE_REFERENCE"] = "1"
        y_ref, st_ref = wkv(td, tf, k, v)
        g_ref = torch.autograd.grad((y_ref * gy).sum(), [td, tf, k, v])
        del os.environ["QSLM_FORCE_REFERENCE"]
        y, st = wkv(td, tf, k, v)
        g = torch.autograd.grad((y * gy).sum(), [td, tf, k, v])
        errs = [(y - y_ref).abs().max().item()] + \
               [(a - b).abs().max().item() / (1e-12 + b.abs().max().item()) for a, b in zip(g, g_ref)] + \
               [(a - b).abs().max().item() for a, b in zip(st[:2], st_ref[:2])]
        # a chunked call with carried state must equal one call over the whole sequence
        y1, s1 = wkv(td, tf, k[:, :T // 2], v[:, :T // 2])
        y2, _ = wkv(td, tf, k[:, T // 2:], v[:, T // 2:], s1)
        errs.append((torch.cat([y1, y2], 1) - y).abs().max().item())
        good = max(errs) < 1e-9
        ok &= good
        if verbose:
            print("[kernels] wkv B=%d T=%d C=%d max err (y, gdecay, gfirst, gk, gv, aa, bb, "
                  "chunked) = %s %s" % (B, T, C, ["%.1e" % e for e in errs],
                                        "OK" if good else "FAIL"))
        x = (1.5 * torch.randn(B, T, C, dtype=torch.float64, device=dev) + 0.8).requires_grad_()
        gs = torch.randn(B, T, C, dtype=torch.float64, device=dev)
        os.environ["QSLM_FORCE_REFERENCE"] = "1"
        s_ref, v_ref = lif_seq(x)
        gx_ref, = torch.autograd.grad((s_ref * gs).sum(), [x])
        del os.environ["QSLM_FORCE_REFERENCE"]
        s_, v_ = lif_seq(x)
        gx, = torch.autograd.grad((s_ * gs).sum(), [x])
        errs = [(s_ - s_ref).abs().max().item(), (v_ - v_ref).abs().max().item(),
                (gx - gx_ref).abs().max().item()]
        good = max(errs) < 1e-9
        ok &= good
        if verbose:
            print("[kernels] lif B=%d T=%d C=%d max err (s, v, gx) = %s rate=%.3f %s" % (
                B, T, C, ["%.1e" % e for e in errs], s_.mean().item(), "OK" if good else "FAIL"))
    return ok


if __name__ == "__main__":
    import sys
    sys.exit(0 if self_test_cuda() else 1)
