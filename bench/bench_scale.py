"""`python bench/bench_scale.py`: memory and time of the 1.5B model, float32 and bfloat16, with the default calibration.

One fresh process per dtype (peak resident memory is per process): load Qwen2.5-Coder-1.5B-Instruct from the cache
(`make models`; the bf16 cache entry is cast once beforehand, not counted), calibrate with the package defaults
(16 chunks of 1,024 tokens of the calibration mix), convert at few-spike T=8 and T=16, and score the float model and
both spiking models on the first 512 Lee evaluation tokens. The table (`bench/results/large/scale.md`) gives the peak
after a bare load and at the end, as multiples of the float32 weight bytes (targets: <= 1.5x in float32, <= 0.9x in
bfloat16), the load, calibration and conversion times (target: <= 15 minutes together) and the perplexities.
"""
import argparse, json, math, resource, subprocess, sys, time
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import markdown, write_atomic  # noqa: E402

MODEL = "qwen2.5-coder-1.5b-instruct"

def peak_gb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB

def one(dtype_name:str, tokens:int) -> dict:
    "The measurements of one dtype, in this process."
    from stac_nb.convert import convert
    from stac_nb.calibrate import calibrate
    from stac_nb.config import ConversionConfig
    from stac_nb.data import load_text
    from stac_nb.evaluate import perplexity
    from stac_nb.models import load_model
    torch.set_num_threads(2); torch.set_grad_enabled(False)
    start = time.perf_counter()
    ann, tok = load_model(MODEL, dtype=getattr(torch, dtype_name))
    out = dict(dtype=dtype_name, load_s=time.perf_counter() - start, peak_after_load_gb=peak_gb(),
               weights_fp32_gb=sum(p.numel() for p in ann.parameters()) * 4 / 1e9)
    cfg, begin = ConversionConfig(), time.perf_counter()
    stats = calibrate(ann, tok, n=cfg.calib_samples, length=cfg.calib_len, seed=cfg.calib_seed, progress=False)
    out["calibrate_s"], begin = time.perf_counter() - begin, time.perf_counter()
    snns = {T: convert(ann, tok, timesteps=T, stats=stats) for T in (8, 16)}
    out["convert_s"] = time.perf_counter() - begin
    window = dict(context=tokens, stride=tokens, max_tokens=tokens, progress=False)
    out["ppl_ann"] = perplexity(ann, tok, load_text(), **window)
    for T, snn in snns.items(): out[f"ppl_snn_T{T}"] = perplexity(snn, tok, load_text(), **window)
    out["peak_gb"] = peak_gb()
    return out

def main(out:Path, tokens:int):
    rows = []
    for dtype in ("float32", "bfloat16"):  # one process each: ru_maxrss is the peak of the whole process
        run = subprocess.run([sys.executable, __file__, "--one", dtype, "--tokens", str(tokens)], capture_output=True, text=True)
        if run.returncode: sys.exit(f"{dtype} run failed:\n{run.stderr[-3000:]}")
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
    weights = rows[0]["weights_fp32_gb"]
    table = pd.DataFrame([{"dtype": r["dtype"], "peak after load (GB)": r["peak_after_load_gb"], "peak (GB)": r["peak_gb"],
                           "peak / fp32 weights": r["peak_gb"] / weights, "target": "<= 1.5" if r["dtype"] == "float32" else "<= 0.9",
                           "load + calibrate + convert (min)": (r["load_s"] + r["calibrate_s"] + r["convert_s"]) / 60,
                           "calibrate (s)": r["calibrate_s"], "ppl ANN": r["ppl_ann"],
                           "ppl SNN T=8": r["ppl_snn_T8"], "x ANN T=8": r["ppl_snn_T8"] / r["ppl_ann"],
                           "ppl SNN T=16": r["ppl_snn_T16"], "x ANN T=16": r["ppl_snn_T16"] / r["ppl_ann"]} for r in rows])
    report = (f"### {MODEL}: memory and time, default calibration (16 x 1,024 tokens), first {tokens} Lee tokens\n\n"
              f"fp32 weight bytes: {weights:.2f} GB\n\n{markdown(table)}\n")
    write_atomic(out/"scale.json", json.dumps(dict(rows=rows, tokens=tokens, threads=2), indent=1))
    write_atomic(out/"scale.md", report)
    print(report)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE/"results"/"large")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one: print(json.dumps(one(a.one, a.tokens)))
    else: main(a.out, a.tokens)
