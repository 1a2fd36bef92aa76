"""`make bench-large`: stac_nb on Qwen2.5-Coder-1.5B-Instruct (Qwen2, 1.78B parameters), offline after `make models`.

Perplexity of the float model, its quantized ANNs at few-spike T=8 and T=16 (the package defaults: the calibration
mix, 4 extra high-order steps at the down sites), and the spiking model itself at T=8 (which must equal its QANN),
on the first tokens of the Lee evaluation text, with load, calibration and conversion times and the peak resident
memory. One run, this machine. The table and the run record go to `bench/results/large/`.

    python bench/bench_large.py                    # 1,024 tokens, 8 calibration chunks of 1,024 tokens
    python bench/bench_large.py --calib-samples 2  # shorter
"""
import argparse, json, math, time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch

from bench import markdown, peak_rss_gb, write_atomic, SEED

HERE = Path(__file__).resolve().parent

def main(calib_samples:int, calib_len:int, tokens:int):
    from stac_nb.calibrate import calibrate
    from stac_nb.convert import convert
    from stac_nb.data import load_text
    from stac_nb.evaluate import nll_and_top1, token_ids
    from stac_nb.models import QWEN_CODER, load_model
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    record, start = dict(model=QWEN_CODER, calib_samples=calib_samples, calib_len=calib_len, tokens=tokens, seed=SEED,
                         versions={p: version(p) for p in ("torch", "transformers", "spikingjelly", "stac_nb")}), time.perf_counter()
    ann, tok = load_model(QWEN_CODER)
    record["load_s"] = round(time.perf_counter() - start, 1)
    ids = token_ids(tok, load_text(), tokens)
    def measure(model):
        begin = time.perf_counter()
        with torch.no_grad(): nll, top1 = nll_and_top1(model, ids, context=tokens, stride=tokens // 2, progress=False)
        return nll, top1, time.perf_counter() - begin
    ann_nll, ann_top1, ann_s = measure(ann)
    ann_ppl = math.exp(ann_nll.double().mean())
    begin = time.perf_counter()
    stats = calibrate(ann, tok, n=calib_samples, length=calib_len, progress=False)
    record["calibrate_s"] = round(time.perf_counter() - begin, 1)
    rows = [dict(model="ANN (float32)", ppl=ann_ppl, ratio=1.0, top1=1.0, seconds=round(ann_s, 1))]
    for label, kw in (("fewspike T=8 (defaults)", dict(timesteps=8)), ("fewspike T=16 (defaults)", dict(timesteps=16))):
        begin = time.perf_counter()
        snn = convert(ann, tok, stats=stats, **kw)
        record[f"convert_s {label}"] = round(time.perf_counter() - begin, 1)
        for kind, model in (("QANN", snn.qann()), *((("SNN", snn),) if kw["timesteps"] == 8 else ())):
            nll, top1, s = measure(model)
            ppl = math.exp(nll.double().mean())
            rows.append(dict(model=f"{kind} {label}", ppl=ppl, ratio=ppl / ann_ppl,
                             top1=(top1 == ann_top1).double().mean().item(), seconds=round(s, 1)))
        del snn
    record.update(peak_rss_gb=round(peak_rss_gb(), 2), total_s=round(time.perf_counter() - start, 1), rows=rows)
    table = pd.DataFrame(rows)
    out = HERE/"results"/"large"
    write_atomic(out/"record.json", json.dumps(record, indent=1))
    write_atomic(out/"table.md", markdown(table) + "\n")
    print(markdown(table)); print({k: v for k, v in record.items() if k != "rows"})

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calib-samples", type=int, default=8)
    ap.add_argument("--calib-len", type=int, default=1024)
    ap.add_argument("--tokens", type=int, default=1024)
    a = ap.parse_args()
    main(a.calib_samples, a.calib_len, a.tokens)
