"""`make bench-int8`: what int8 spike planes would do to the exact engine's prefill products (a study, not a feature).

The exact engine multiplies each of the T spike planes by the weight matrix in float32 (`SpikingSite._drive`). A spike
plane holds only 0 and +-1, so it fits in int8 (4x less memory than float32), and the CPU has fast int8 x int8 -> int32
products (`torch._int_mm`, oneDNN; AMX where the CPU has it). But the weights are float32: to use an integer product they
must be written as integers too. Here each output row of the weight matrix (times the site's input scales) becomes L
signed base-256 digits at one scale per row, so that the product is L int8 products, exact in int32, added in float32.
L = 4 holds 31 bits per row (finer than float32 for weights near the row's largest); L = 3 holds 23, L = 2 holds 15.

For the weight-matrix sites of one middle decoder layer at a 128-token prefill (SmolLM2-135M-Instruct, T = 8, the
package defaults: 12 steps at `down`), this prints the time of the float32 products against the int8 path (casting the
planes, the integer products and adding the digits; and the integer products alone), the error of each against a float64 product of the same planes,
and the planes' memory. Nothing here changes the package.

    python bench/bench_int8.py
"""
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from bench import markdown, write_atomic

HERE = Path(__file__).resolve().parent

def digits(w:torch.Tensor, L:int) -> tuple:
    "`(d [K, L * M] int8, row_scale [M])` with `w[m] ~ row_scale[m] * sum_l d[:, l * M + m] * 256^(L-1-l)`."
    scale = w.abs().amax(1).clamp_min(1e-30) / (127 * 256.0 ** (L - 1))
    q = torch.round(w.double() / scale[:, None].double()).long()
    out = []
    for _ in range(L):  # least significant first: balanced digits in [-128, 127]
        d = (q + 128) % 256 - 128
        out.append(d)
        q = (q - d) // 256
    return torch.cat([d.t() for d in reversed(out)], 1).to(torch.int8).contiguous(), scale.float()

def int8_product(planes:torch.Tensor, d:torch.Tensor, row_scale:torch.Tensor, L:int) -> torch.Tensor:
    "`planes @ w.T` for a float plane stack `planes` [R, K] of 0 and +-1, through int8 planes and `digits`."
    y = torch._int_mm(planes.to(torch.int8), d)
    M = d.shape[1] // L
    out = y[:, :M].float()
    for l in range(1, L): out = out * 256 + y[:, l * M:(l + 1) * M]
    return out * row_scale

def median_s(f, n:int=9) -> float:
    f(); times = []
    for _ in range(n):
        begin = time.perf_counter(); f(); times.append(time.perf_counter() - begin)
    return sorted(times)[n // 2]

def main(layer:int=15, tokens:int=128):
    from stac_nb.calibrate import SitedLinear, calibrate
    from stac_nb.convert import convert, recording
    from stac_nb.data import load_text
    from stac_nb.evaluate import token_ids
    from stac_nb.models import load_model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    ann, tok = load_model()
    stats = calibrate(ann, tok, n=4, length=1024, seed=0, progress=False)
    snn = convert(ann, tok, 8, stats=stats, engine="exact", progress=False)
    ids = token_ids(tok, load_text("lee"), tokens)[None]
    with torch.no_grad(), recording(snn) as seen: snn(input_ids=ids, use_cache=False)
    rows = []
    for site in snn.spiking_sites:
        if not site.name.startswith(f"layers.{layer}.") or site.kind in ("q", "k", "v", "p"): continue
        linears = [m for m in snn.modules() if isinstance(m, SitedLinear) and m.site is site]
        w = torch.cat([m.weight for m in linears]) * site.scale  # the scales fold into the weights' columns
        spikes = seen[site.name][0][0]
        T, K = spikes.shape[0], spikes.shape[-1]
        planes = spikes.reshape(-1, K)
        planes8 = planes.to(torch.int8)
        step = site.neurons.step_weights(torch.float64, "cpu")
        ref = (step @ F.linear(planes.double(), w.double()).view(T, -1)).view(-1, w.shape[0])
        err = lambda y: ((step.float() @ y.view(T, -1)).view(ref.shape).double() - ref).abs().max().item() / ref.abs().max().item()
        fp32_s = median_s(lambda: F.linear(planes, w))
        row = dict(site=site.name, steps=T, shape=f"{planes.shape[0]} x {K} x {w.shape[0]}", fp32_ms=fp32_s * 1e3,
                   fp32_err=err(F.linear(planes, w)))
        for L in (2, 3, 4):
            d, rs = digits(w, L)
            row[f"int8 L={L} ms"] = median_s(lambda: int8_product(planes, d, rs, L)) * 1e3
            row[f"products only L={L} ms"] = median_s(lambda: torch._int_mm(planes8, d)) * 1e3
            row[f"L={L} err"] = err(int8_product(planes, d, rs, L))
        row.update(planes_fp32_kb=planes.numel() * 4 / 1024, planes_int8_kb=planes.numel() / 1024)
        rows.append(row)
        print(row, flush=True)
    df = pd.DataFrame(rows)
    total = df.select_dtypes("number").sum()
    summary = {c: total[c] / total["fp32_ms"] for c in df if c.endswith(" ms")}
    report = (f"### int8 spike planes, layer {layer}, {tokens}-token prefill, T = 8 (max error relative to the largest "
              f"output, against float64)\n\n{markdown(df)}\n\nLayer total, int8 time / float32 time: "
              + ", ".join(f"{k.split(' ms')[0]}: {v:.2f}x" for k, v in summary.items()) + "\n")
    write_atomic(HERE/"results"/"full"/"int8_planes.md", report)
    print(report)

if __name__ == "__main__":
    main()
