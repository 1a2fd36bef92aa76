"""`make bench`: stac_nb against SpikingJelly's own LLM recipe (`Qwen2SNNRecipe`) on SmolLM2-135M-Instruct.

Every row of the table is measured in this one run, on this machine, next to its baseline, and reported as a ratio.
Fidelity rows evaluate each conversion's quantized ANN, which the spiking model equals exactly (the invariant tests
of `nbs/04_convert.ipynb`); the run checks that once more on the real model by simulating the spikes at T=8.
The table, the run record (versions, seeds, model file hash, settings) and the raw numbers go to `bench/results/`.

    python bench/bench.py            # the full benchmark (about 16 minutes on 2 cores)
    python bench/bench.py --quick    # a smoke run on 1,024 tokens and 2 calibration chunks (not for reporting)
"""
import argparse, hashlib, json, math, os, platform, subprocess, sys, tempfile, time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
SEED = 0
RECIPE_RULE = "stac_nb rate, recipe coverage, recipe scale rule (max x1, q/k per dimension)"

def peak_rss_gb() -> float:
    "Peak resident memory of this process so far (GB): VmHWM (ru_maxrss would carry the parent's peak across fork and exec)."
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 2**20

def sha256(path, chunk=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""): h.update(block)
    return h.hexdigest()

def write_atomic(path:Path, text:str):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)

def machine() -> dict:
    "The machine a run was measured on: platform, CPU model, cores and torch threads (speed ratios move between CPUs)."
    info = Path("/proc/cpuinfo")
    names = [l.split(":", 1)[1].strip() for l in info.read_text().splitlines() if l.startswith("model name")] if info.exists() else []
    return dict(platform=platform.platform(), cpu=names[0] if names else platform.processor(), cpus=os.cpu_count(),
                torch_threads=torch.get_num_threads())

def markdown(df:pd.DataFrame) -> str:
    "A GitHub markdown table of `df` (pandas' own needs the `tabulate` package)."
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)])

def seconds(fn, repeat=3):
    "Median wall time of `fn()` after one warm-up call."
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

def chat_child(model_dir:str):
    "Run in a child process: a three-turn chat with the float model ('ann') or a saved spiking model; print peak memory."
    from stac_nb.chat import ChatSession
    from stac_nb.models import load_model
    from stac_nb.convert import load_spiking
    torch.set_num_threads(2)
    ann, tok = load_model()
    model = ann if model_dir == "ann" else load_spiking(model_dir)
    if model_dir != "ann": del ann
    chat = ChatSession(model, tok)
    start = time.perf_counter()
    for turn in ("What is the capital of France?", "What is it famous for?", "Name one museum there."):
        chat.say(turn, max_new_tokens=24)
    print(json.dumps(dict(peak_gb=peak_rss_gb(), seconds=time.perf_counter() - start)))

def chat_memory(model_dir:str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--chat-child", model_dir], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])

def main(quick:bool):
    from stac_nb.baseline import recipe_convert
    from stac_nb.evaluate import nll_and_top1
    from stac_nb.calibrate import calibrate
    from stac_nb.convert import convert
    from stac_nb.data import load_text
    from stac_nb.evaluate import token_ids
    from stac_nb.models import DEFAULT_LABEL, default_gguf_path, load_model
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    run_start = time.perf_counter()
    S = dict(eval_tokens=1024 if quick else 4096, recipe_tokens=1024, context=1024, stride=512,
             calib_samples=2 if quick else 16, calib_len=1024, prompt_tokens=128, decode_prompt=16, decode_tokens=32,
             # the conversions compared; "full coverage": every site spiking (`sites="all"`, nbs/00a_how_it_works.ipynb), unless `sites` says otherwise
             T16=dict(timesteps=16, coding="fewspike", scale_method="max", headroom=2.0),
             T8=dict(timesteps=8, coding="fewspike"),
             T8_p12=dict(timesteps=8, coding="fewspike", site_timesteps={"p": 12}),
             recipe_T=(8, 16, 32), recipe_sites=("q", "k", "v", "down"),
             # the recipe's own scale rule: each channel's max |x|, no headroom, query/key scales per dimension
             recipe_rule=dict(scale_method="max", headroom=1.0, rope_pairs=False))
    log = lambda *a: print(f"[{time.perf_counter() - run_start:6.0f} s]", *a, flush=True)

    ann, tok = load_model()
    text = load_text("lee")
    ids = token_ids(tok, text, S["eval_tokens"])
    log(f"{DEFAULT_LABEL}; {len(ids)} evaluation tokens")

    # calibrate + convert (load excluded), and the peak memory of the process up to here
    start = time.perf_counter()
    stats = calibrate(ann, tok, n=S["calib_samples"], length=S["calib_len"], seed=SEED, progress=False)
    t_calib = time.perf_counter() - start
    snn8 = convert(ann, tok, stats=stats, progress=False, **S["T8"])
    t_convert = time.perf_counter() - start
    peak_convert = peak_rss_gb()
    log(f"calibrated in {t_calib:.1f} s, converted in {t_convert - t_calib:.1f} s; peak RSS {peak_convert:.2f} GB")

    # fidelity on the evaluation tokens
    ann_nll, ann_top1 = nll_and_top1(ann, ids, S["context"], S["stride"], progress=False)
    ann_ppl = math.exp(ann_nll.double().mean())
    fid = {"ANN (float)": dict(ppl=ann_ppl, ratio=1.0, top1=1.0)}
    for key in ("T16", "T8", "T8_p12"):
        q = (snn8 if key == "T8" else convert(ann, tok, stats=stats, progress=False, **S[key])).qann()
        nll, top1 = nll_and_top1(q, ids, S["context"], S["stride"], progress=False)
        ppl = math.exp(nll.double().mean())
        fid[key] = dict(ppl=ppl, ratio=ppl / ann_ppl, top1=(top1 == ann_top1).double().mean().item())
        log(key, fid[key])

    # the spikes themselves at T=8 on the first window: same perplexity as the QANN, and the mean T
    first = ids[:S["context"]]
    start = time.perf_counter()
    snn8.reset_stats()
    snn_nll, _ = nll_and_top1(snn8, first, S["context"], S["stride"], progress=False)
    t_snn_window = time.perf_counter() - start
    q_nll, _ = nll_and_top1(snn8.qann(), first, S["context"], S["stride"], progress=False)
    st = snn8.spike_stats()
    spikes_check = dict(snn_ppl=math.exp(snn_nll.double().mean()), qann_ppl=math.exp(q_nll.double().mean()),
                        seconds=t_snn_window, firing_rate=((st.spikes_pos + st.spikes_neg).sum() / (st.neurons * st.tokens * st["T"]).sum()).item())
    log("spikes at T=8 on the first window:", spikes_check)
    # the mean T of the mixed setting (p sites at T=12): per site, and per activation on this window
    site_T = pd.Series([S["T8_p12"]["site_timesteps"]["p"] if n.endswith(".p") else 8 for n in st.index], index=st.index)
    acts = st.neurons * st.tokens
    mean_T = dict(per_site=site_T.mean(), per_activation=(acts * site_T).sum() / acts.sum())

    # SpikingJelly's recipe and our rate coding at the recipe's coverage, on the first window
    rid = ids[:S["recipe_tokens"]]
    ann_r_nll, ann_r_top1 = nll_and_top1(ann, rid, S["context"], S["stride"], progress=False)
    ann_r = math.exp(ann_r_nll.double().mean())
    recipe_rows, recipes = [], {}
    for T in S["recipe_T"]:
        start = time.perf_counter()
        recipes[T] = rec = recipe_convert(ann, tok, T, calib_samples=S["calib_samples"], calib_len=S["calib_len"], seed=SEED)
        t_rec_convert = time.perf_counter() - start
        for label, model in (("SpikingJelly Qwen2SNNRecipe", rec),
                             ("stac_nb rate, recipe coverage", convert(ann, tok, T, "rate", stats=stats, progress=False, sites=S["recipe_sites"]).qann()),
                             ("stac_nb rate, recipe coverage, MSE scales", convert(ann, tok, T, "rate", stats=stats, progress=False, sites=S["recipe_sites"], scale_method="mse").qann()),
                             (RECIPE_RULE, convert(ann, tok, T, "rate", stats=stats, progress=False, sites=S["recipe_sites"], **S["recipe_rule"]).qann()),
                             ("stac_nb rate, full coverage", convert(ann, tok, T, "rate", stats=stats, progress=False).qann()),
                             ("stac_nb fewspike, full coverage", convert(ann, tok, T, "fewspike", stats=stats, progress=False,
                                                                         **({} if T < 16 else dict(scale_method="max", headroom=2.0))).qann())):
            start = time.perf_counter()
            nll, top1 = nll_and_top1(model, rid, S["context"], S["stride"], progress=False)
            ppl = math.exp(nll.double().mean())
            recipe_rows.append(dict(model=label, T=T, ppl=ppl, ratio=ppl / ann_r, top1=(top1 == ann_r_top1).double().mean().item(),
                                    seconds=time.perf_counter() - start))
        log(f"recipe block T={T} (recipe conversion {t_rec_convert:.0f} s)", recipe_rows[-6:])
        if T != 8: del recipes[T]
    recipe_df = pd.DataFrame(recipe_rows)

    # speed: prefill of 128 tokens, and greedy decoding with the KV cache
    prompt = ids[None, :S["prompt_tokens"]]
    short = ids[None, :S["decode_prompt"]]
    exact8 = convert(ann, tok, stats=stats, progress=False, engine="exact", **S["T8"])
    # the QANN rounds at the same 241 sites in PyTorch operations, without neurons or telemetry: what per-site work costs in eager mode
    models = {"ANN": ann, "qann": snn8.qann(), "fused": snn8, "exact": exact8, "recipe": recipes[8]}
    speed = {}
    with torch.no_grad():
        for name, m in models.items():
            prefill = seconds(lambda: m(input_ids=prompt, use_cache=False))
            n = S["decode_tokens"]
            gen = (lambda: m.generate(short, max_new_tokens=n)) if name == "recipe" else \
                  (lambda: m.generate(short, attention_mask=torch.ones_like(short), max_new_tokens=n, min_new_tokens=n, do_sample=False))
            decode = seconds(gen, repeat=3)  # median of three: decode timings are the noisiest on a shared machine
            speed[name] = dict(prefill_s=prefill, decode_tok_s=n / decode)
            log("speed", name, speed[name])

    # memory during chat: the float model and the spiking model, each in a fresh process
    with tempfile.TemporaryDirectory() as d:
        snn8.save_pretrained(Path(d)/"snn")
        ram = {"ANN": chat_memory("ann"), "SNN": chat_memory(str(Path(d)/"snn"))}
    log("chat memory", ram)

    a = speed["ANN"]
    rows = [
        ("perplexity fewspike T=16, full coverage", "<= 1.01 x ANN, top-1 >= 0.98", f"{fid['T16']['ratio']:.4f} x, top-1 {fid['T16']['top1']:.3f}",
         fid["T16"]["ratio"] <= 1.01 and fid["T16"]["top1"] >= 0.98),
        ("perplexity fewspike T=8, full coverage", "<= 1.03 x ANN, top-1 >= 0.90", f"{fid['T8']['ratio']:.4f} x, top-1 {fid['T8']['top1']:.3f}",
         fid["T8"]["ratio"] <= 1.03 and fid["T8"]["top1"] >= 0.90),
        (f"  same, p site at T=12 (mean T {mean_T['per_site']:.2f} per site)", "<= 1.03 x ANN, top-1 >= 0.90",
         f"{fid['T8_p12']['ratio']:.4f} x, top-1 {fid['T8_p12']['top1']:.3f}", fid["T8_p12"]["ratio"] <= 1.03 and fid["T8_p12"]["top1"] >= 0.90),
    ]
    for T in S["recipe_T"]:
        r = recipe_df[recipe_df["T"] == T].set_index("model")
        ours, theirs = r.loc[RECIPE_RULE], r.loc["SpikingJelly Qwen2SNNRecipe"]
        rows.append((f"perplexity rate T={T}, recipe coverage and scale rule", "< recipe at same T",
                     f"{ours.ppl:.2f} vs recipe {theirs.ppl:.2f} ({ours.ppl / theirs.ppl:.3f} x)", ours.ppl < theirs.ppl))
    for name, lim, cmp in (("exact", 0.4, "decode"), ("fused", 0.9, "decode")):
        x = speed[name]["decode_tok_s"] / a["decode_tok_s"]
        rows.append((f"decode tok/s, T=8, {name} engine", f">= {lim} x ANN", f"{x:.3f} x ({speed[name]['decode_tok_s']:.1f} vs {a['decode_tok_s']:.1f} tok/s)", x >= lim))
    for name, lim in (("exact", 8), ("fused", 1.5)):
        x = speed[name]["prefill_s"] / a["prefill_s"]
        rows.append((f"prefill 128 tokens, T=8, {name} engine", f"<= {lim} x ANN", f"{x:.2f} x ({speed[name]['prefill_s']:.3f} vs {a['prefill_s']:.3f} s)", x <= lim))
    rows += [("calibrate + convert (load excluded)", "<= 60 s", f"{t_convert:.1f} s ({t_calib:.1f} s calibration)", t_convert <= 60),
             ("peak RAM during conversion", "<= 4 GB", f"{peak_convert:.2f} GB (process peak through load + convert)", peak_convert <= 4),
             ("peak RAM during SNN chat (T=8)", "<= 2 x ANN's", f"{ram['SNN']['peak_gb'] / ram['ANN']['peak_gb']:.2f} x ({ram['SNN']['peak_gb']:.2f} vs {ram['ANN']['peak_gb']:.2f} GB)",
              ram["SNN"]["peak_gb"] <= 2 * ram["ANN"]["peak_gb"])]
    table = pd.DataFrame(rows, columns=["figure", "target", "measured", "met"])
    others = pd.DataFrame([dict(model=label, prefill_x=speed[k]["prefill_s"] / a["prefill_s"], decode_x=speed[k]["decode_tok_s"] / a["decode_tok_s"])
                           for k, label in (("qann", "QANN T=8 (rounds at the same sites in PyTorch operations, no neurons)"), ("recipe", "SpikingJelly recipe T=8"))])

    record = dict(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), quick=quick, model=DEFAULT_LABEL, model_file=default_gguf_path().name,
                  model_sha256=sha256(default_gguf_path()), seed=SEED, settings=S,
                  versions={p: version(p) for p in ("stac_nb", "torch", "transformers", "spikingjelly", "numpy")},
                  python=sys.version.split()[0], machine=machine(),
                  fidelity=fid, spikes_check=spikes_check, mean_T_p12=mean_T, recipe_block=recipe_rows, speed=speed, chat_memory=ram,
                  calibrate_s=t_calib, calibrate_convert_s=t_convert, peak_convert_gb=peak_convert,
                  table=table.to_dict("records"), total_s=time.perf_counter() - run_start)
    out = HERE/"results"/("quick" if quick else "full")
    write_atomic(out/"record.json", json.dumps(record, indent=1, default=str))
    md = "\n\n".join(markdown(t) for t in (table, recipe_df, others))
    write_atomic(out/"table.md", md + "\n")
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(f"\nstac_nb benchmark, {DEFAULT_LABEL}, {torch.get_num_threads()} CPU threads, fp32; {platform.platform()}; "
              f"torch {version('torch')}, transformers {version('transformers')}, spikingjelly {version('spikingjelly')}, stac_nb {version('stac_nb')}")
        print(f"model sha256 {record['model_sha256']}; seed {SEED}; {len(ids)} evaluation tokens (context {S['context']}, stride {S['stride']})\n")
        print(table.to_string(index=False))
        print("\nperplexity on the first", S["recipe_tokens"], "tokens, against SpikingJelly's recipe (ANN", f"{ann_r:.3f}):")
        print(recipe_df.round(4).to_string(index=False))
        print("\n", others.round(3).to_string(index=False))
        print(f"\nspikes at T=8 on the first window: SNN {spikes_check['snn_ppl']:.4f} == QANN {spikes_check['qann_ppl']:.4f}; "
              f"{spikes_check['seconds']:.0f} s; firing rate {spikes_check['firing_rate']:.3f}")
    log(f"done; results in {out}")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1,024 tokens, 2 calibration chunks")
    p.add_argument("--chat-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.chat_child: chat_child(args.chat_child)
    else: main(args.quick)
