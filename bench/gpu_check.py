"""`python bench/gpu_check.py`: the checks that need a CUDA GPU, as one prepared script.

On a CUDA device it runs, and writes as one table to `bench/results/gpu/` (`table.md`, `record.json`):

1. exactness in float64 on tiny GPT-2 and Llama models: the spiking model's levels equal its quantized ANN's
   (`levels_differ == 0`), and the exact engine's logits equal the fused engine's (relative error below 1e-9);
2. the SmolLM2-135M-Instruct `T = 8` fidelity row (defaults, 8 calibration chunks): perplexity of the float model and
   the spiking model on the first 1,024 Lee evaluation tokens, and their ratio;
3. speed on the same GPU: greedy decode tokens per second and the time of a 128-token prefill, spiking (fused and
   exact engines) as multiples of the float model;
4. Qwen2.5-Coder-1.5B-Instruct at `T = 8` in bfloat16, when it is installed (`make models`) and fits in GPU memory.

Without a CUDA device it says so and exits with status 0: the compiled CPU kernels and the CPU path are what
`make test` checks.
"""
import argparse, json, math, sys, time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import markdown, write_atomic  # noqa: E402

def exactness(device) -> list:
    "Float64 invariants of the tiny models on `device`."
    from stac_nb.calibrate import calibrate
    from stac_nb.convert import convert, levels_differ, recording
    from stac_nb.models import TINY_CORPUS, tiny_model
    rows = []
    for arch in ("gpt2", "llama"):
        model, tok = tiny_model(arch, dtype=torch.float64)
        model = model.to(device)
        ids = tok(TINY_CORPUS, return_tensors="pt").input_ids[:, :96].to(device)
        stats = calibrate(model, tok, [TINY_CORPUS], length=128, progress=False)
        snn = convert(model, tok, timesteps=8, stats=stats)
        qann, exact = snn.qann(), convert(model, tok, timesteps=8, stats=stats, engine="exact")
        with recording(snn) as s_rec: fused = snn(ids).logits
        with recording(qann) as q_rec: qann(ids)
        rel = ((exact(ids).logits - fused).norm() / fused.norm()).item()
        rows.append(dict(check=f"tiny {arch}, float64: levels SNN vs QANN differ", value=levels_differ(s_rec, q_rec),
                         target="0", ok=levels_differ(s_rec, q_rec) == 0))
        rows.append(dict(check=f"tiny {arch}, float64: exact vs fused, relative logit error", value=rel,
                         target="<= 1e-9", ok=rel <= 1e-9))
    return rows

def decode_rate(model, ids, new_tokens:int) -> float:
    "Greedy decode tokens per second after the prompt `ids`."
    model.generate(ids, max_new_tokens=2, do_sample=False)  # warm-up
    torch.cuda.synchronize(); start = time.perf_counter()
    model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    torch.cuda.synchronize()
    return new_tokens / (time.perf_counter() - start)

def prefill_seconds(model, ids) -> float:
    "Median seconds of one forward pass over `ids`, after a warm-up."
    times = []
    for _ in range(4):
        torch.cuda.synchronize(); start = time.perf_counter()
        model(ids, use_cache=False)
        torch.cuda.synchronize(); times.append(time.perf_counter() - start)
    return sorted(times[1:])[1]

def model_rows(name:str, dtype, device, calib_samples:int, speed:bool) -> list:
    "Fidelity (and speed) rows of one model at T = 8 on `device`."
    from stac_nb.convert import convert
    from stac_nb.data import load_text
    from stac_nb.evaluate import perplexity, token_ids
    from stac_nb.calibrate import calibrate
    from stac_nb.models import load_model
    ann, tok = load_model(name, dtype=dtype)
    ann = ann.to(device)
    stats = calibrate(ann, tok, n=calib_samples, progress=False)  # once, for both engines
    snn = convert(ann, tok, timesteps=8, stats=stats)
    window = dict(context=1024, stride=512, max_tokens=1024, progress=False)
    ppl = {k: perplexity(m, tok, load_text(), **window) for k, m in dict(ann=ann, snn=snn).items()}
    label = f"{name} ({str(dtype).replace('torch.', '')}) T=8"
    rows = [dict(check=f"{label}: perplexity ANN / SNN", value=f"{ppl['ann']:.3f} / {ppl['snn']:.3f}", target="", ok=True),
            dict(check=f"{label}: SNN / ANN perplexity", value=ppl["snn"] / ppl["ann"], target="<= 1.03",
                 ok=ppl["snn"] / ppl["ann"] <= 1.03)]
    if speed:
        ids = token_ids(tok, load_text(), 128)[None].to(device)
        exact = convert(ann, tok, timesteps=8, stats=stats, engine="exact")
        ann_rate, ann_prefill = decode_rate(ann, ids[:, :16], 64), prefill_seconds(ann, ids)
        for engine, m in dict(fused=snn, exact=exact).items():
            rows.append(dict(check=f"{label}: {engine} decode, x float tokens/s",
                             value=decode_rate(m, ids[:, :16], 64) / ann_rate, target="", ok=True))
            rows.append(dict(check=f"{label}: {engine} prefill of 128 tokens, x float time",
                             value=prefill_seconds(m, ids) / ann_prefill, target="", ok=True))
    return rows

def main(out:Path, calib_samples:int):
    if not torch.cuda.is_available():
        print("no CUDA device: bench/gpu_check.py has nothing to check on this machine "
              "(run it where `torch.cuda.is_available()`; `make test` covers the CPU path)")
        return 0
    device, start = torch.device("cuda"), time.perf_counter()
    torch.set_grad_enabled(False)
    rows = exactness(device)
    rows += model_rows("smollm2-135m-instruct", torch.float32, device, calib_samples, speed=True)
    free, _ = torch.cuda.mem_get_info()
    try:
        if free < 12 * 2**30: raise MemoryError(f"{free / 2**30:.0f} GiB free on the GPU")
        rows += model_rows("qwen2.5-coder-1.5b-instruct", torch.bfloat16, device, calib_samples, speed=False)
    except (OSError, MemoryError) as e:  # not installed (`make models`), or too little memory
        rows.append(dict(check="qwen2.5-coder-1.5b-instruct (bfloat16) T=8", value=f"skipped: {str(e).splitlines()[0]}",
                         target="", ok=True))
    import pandas as pd
    table = pd.DataFrame(rows)
    record = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, seconds=round(time.perf_counter() - start, 1),
                  rows=[{k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in r.items()} for r in rows])
    write_atomic(out/"record.json", json.dumps(record, indent=1))
    write_atomic(out/"table.md", f"### GPU checks on {record['device']}\n\n{markdown(table)}\n")
    print(markdown(table))
    return 0 if table.ok.all() else 1

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE/"results"/"gpu")
    ap.add_argument("--calib-samples", type=int, default=8)
    a = ap.parse_args()
    sys.exit(main(a.out, a.calib_samples))
