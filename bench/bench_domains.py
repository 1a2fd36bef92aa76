"""`make bench-domains`: fidelity off the calibration domain, on SmolLM2-135M-Instruct.

Perplexity ratio (spiking model / float model) on each built-in domain (`nbs/01_data.ipynb`: Lee news, Python
standard-library code, Python reference documentation, written conversations in the chat template) and the worst
domain, at few-spike T = 6, 8, 12, 16, for the package defaults over three calibration seeds (below T = 12 their floors
give the attention values 12 steps, and at T = 6 the attention weights and the down inputs 8; uniform T = 6 and 7, and
T = 8 without the values' floor, are shown beside them), and for two references:
the older defaults (news-only calibration, no extra steps) and the recipe-style scale rule (each channel's maximum,
no headroom, q/k scales per dimension, news-only calibration). Fidelity rows evaluate each conversion's quantized ANN,
which the spiking model equals exactly (`nbs/04_convert.ipynb`); spikes per token come from the spiking model itself on
the first 256 tokens of each domain, so settings can be compared at equal spikes. Then the chat fidelity of the
defaults over the evaluation conversations. Settings were chosen on the validation split (`--split validation`),
never on the evaluation split; the run record keeps each domain's source and sha256.

    python bench/bench_domains.py                       # the evaluation split (about 20 minutes on 2 cores)
    python bench/bench_domains.py --split validation    # the split the defaults were chosen on
    python bench/bench_domains.py --quick               # smoke run: 256 tokens per domain, 2 calibration chunks
"""
import argparse, json, math, sys, time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch

from bench import machine, markdown, write_atomic

HERE = Path(__file__).resolve().parent
TIMESTEPS = (6, 8, 12, 16)
SEEDS = (0, 1, 2)
SETTINGS = {  # label: (ConversionConfig fields, calibration seeds, timesteps)
    "defaults": (dict(), SEEDS, TIMESTEPS),
    # the defaults without their floors at T = 6 and 7: the spiking model at about the spikes per token of T = 6's floors
    "uniform T (defaults without the floors)": (dict(min_site_timesteps={}), (0,), (6, 7)),
    # the defaults before the v floor (chosen on the selection conversations' repeats: selection.md, section 6)
    "defaults without the v floor": (dict(min_site_timesteps={"p": 8, "down": 8}), (0,), (8,)),
    "older defaults (news calibration, no extra steps)":
        (dict(calib_mix={"lee": 1}, extra_steps={}, min_site_timesteps={}), (0,), TIMESTEPS),
    "recipe-style scales (max x1, q/k per dimension, news calibration)":
        (dict(calib_mix={"lee": 1}, extra_steps={}, min_site_timesteps={}, headroom=1.0, rope_pairs=False), (0,), TIMESTEPS),
}
TARGETS = {16: 1.005, 8: 1.03, 6: 1.10}

def main(split:str, quick:bool, only:tuple|None=None):
    from stac_nb.calibrate import calibrate
    from stac_nb.chat import conversation_fidelity
    from stac_nb.config import ConversionConfig, timesteps_label
    from stac_nb.convert import convert
    from stac_nb.data import DOMAINS, conversations, domain_sources, domain_text
    from stac_nb.evaluate import nll_and_top1, token_ids
    from stac_nb.models import DEFAULT_LABEL, load_model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    log = lambda *a: print(f"[{time.perf_counter() - start:6.0f} s]", *a, flush=True)
    tokens, calib_samples = (256, 2) if quick else (2048, 16)
    ann, tok = load_model()
    ids = {d: token_ids(tok, domain_text(d, split, tok), tokens) for d in DOMAINS}
    window = lambda d: dict(context=min(1024, len(ids[d])), stride=min(512, len(ids[d])), progress=False)
    ann_out = {d: nll_and_top1(ann, ids[d], **window(d)) for d in DOMAINS}
    ann_ppl = {d: math.exp(nll.double().mean()) for d, (nll, _) in ann_out.items()}
    log(DEFAULT_LABEL, {d: len(v) for d, v in ids.items()}, "tokens; ANN perplexity", {d: round(p, 3) for d, p in ann_ppl.items()})
    rows, stats = [], {}
    for label, (fields, seeds, steps) in SETTINGS.items():
        steps = [T for T in steps if only is None or T in only]
        for seed in seeds if steps else ():
            config = ConversionConfig(calib_samples=calib_samples, calib_seed=seed, **fields)
            key = (json.dumps(config.calib_mix), seed)
            if key not in stats:
                stats[key] = calibrate(ann, tok, n=calib_samples, length=1024, seed=seed, mix=config.calib_mix, progress=False)
            for T in steps:
                snn = convert(ann, tok, T, config=config, stats=stats[key], progress=False)
                q, row = snn.qann(), dict(setting=label, seed=seed, T=T, label=timesteps_label(config.replace(timesteps=T)))
                spikes = 0
                for d in DOMAINS:
                    nll, top1 = nll_and_top1(q, ids[d], **window(d))
                    row[d] = math.exp(nll.double().mean()) / ann_ppl[d]
                    row[f"top1 {d}"] = (top1 == ann_out[d][1]).double().mean().item()
                    snn.reset_stats()
                    with torch.no_grad(): snn(ids[d][None, :256])
                    st = snn.spike_stats()
                    spikes += st.spikes_per_token.sum() / len(DOMAINS)
                    row[f"clip {d}"] = (st.clip_rate * st.neurons).sum() / st.neurons.sum()
                row.update(worst=max(row[d] for d in DOMAINS), worst_domain=max(DOMAINS, key=lambda d: row[d]),
                           spikes_per_token=spikes, mean_T_per_site=st["T"].mean(),
                           mean_T_per_neuron=(st["T"] * st.neurons).sum() / st.neurons.sum())
                rows.append(row)
                log(label, seed, T, {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items() if k in (*DOMAINS, "worst", "worst_domain")})
    df, chats, out = pd.DataFrame(rows), {}, HERE/"results"/"domains"/(("quick-" if quick else "") + split)
    if only is not None:  # rerun some T only: keep the saved record's other rows and its chat rows
        saved = json.loads((out/"record.json").read_text())
        old = pd.DataFrame(saved["rows"])
        old = old[~old["T"].isin(only) & old.setting.isin(list(SETTINGS))]
        df, chats = pd.concat([old, df], ignore_index=True), {int(T): c for T, c in saved["chat"].items()}
        log("kept", len(old), "rows and the chat rows of the run of", saved["created"])
    convs = conversations(split)[: 2 if quick else None]
    for T in (16, 8) if only is None else ():
        snn = convert(ann, tok, T, config=ConversionConfig(calib_samples=calib_samples), stats=stats[(json.dumps(None), 0)], progress=False)
        f = conversation_fidelity(ann, snn, tok, convs, max_new_tokens=16 if quick else 48)
        chats[T] = dict(mean_agreement=f.agreement.mean(), worst_agreement=f.agreement.min(), new_repeats=int(f.new_repeats.sum()),
                        recalled_by_ann=int(f.recalled_ann.sum()), recall_missed=int(f.recall_missed.sum()),
                        conversations=f.reset_index().to_dict("records"))
        log("chat", T, {k: v for k, v in chats[T].items() if k != "conversations"})
    report(df, chats, split, quick, ann_ppl, {d: len(v) for d, v in ids.items()}, domain_sources(split, tok), start, only)

def report(df, chats, split, quick, ann_ppl, tokens, sources, start, only=None):
    "Print and save the per-domain table (worst domain at each T), the seed spread and the chat rows."
    from stac_nb.data import DOMAINS
    cols = ["setting", "T", "label", *DOMAINS, "worst", "worst_domain", "spikes_per_token", "mean_T_per_site", "mean_T_per_neuron"]
    seed0 = df[df.seed == 0][cols]
    spread = (df[df.setting == "defaults"].groupby("T").worst.agg(["min", "mean", "max"])
              .rename(columns=lambda c: f"worst {c} over seeds {SEEDS}").reset_index())
    targets = []
    for T, limit in TARGETS.items():
        worst = df[(df.setting == "defaults") & (df["T"] == T)].worst
        targets.append(dict(figure=f"worst domain, defaults, T={T}", target=f"<= {limit} x ANN",
                            measured=f"{worst.max():.4f} x (seeds: {', '.join(f'{w:.4f}' for w in worst)})", met=bool(worst.max() <= limit)))
    for T, limit in ((16, 0.97), (8, 0.92)):
        c = chats[T]
        targets.append(dict(figure=f"chat agreement, defaults, T={T}", target=f">= {limit}",
                            measured=f"mean {c['mean_agreement']:.3f}, worst conversation {c['worst_agreement']:.3f}",
                            met=bool(c["mean_agreement"] >= limit)))
        targets.append(dict(figure=f"chat, T={T}: new repeats / facts the ANN recalled and the SNN missed", target="0 / 0",
                            measured=f"{c['new_repeats']} / {c['recall_missed']} (ANN recalled {c['recalled_by_ann']})",
                            met=c["new_repeats"] == 0 and c["recall_missed"] == 0))
    targets = pd.DataFrame(targets)
    record = dict(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), split=split, quick=quick, ann_ppl=ann_ppl, tokens=tokens,
                  sources=sources, settings={k: v[0] for k, v in SETTINGS.items()}, seeds=SEEDS,
                  versions={p: version(p) for p in ("stac_nb", "torch", "transformers", "numpy")}, python=sys.version.split()[0],
                  machine=machine(),
                  rows=df.to_dict("records"), chat=chats, rerun_T=only, targets=targets.to_dict("records"), total_s=time.perf_counter() - start)
    out = HERE/"results"/"domains"/(("quick-" if quick else "") + split)
    write_atomic(out/"record.json", json.dumps(record, indent=1, default=str))
    write_atomic(out/"table.md", "\n\n".join(markdown(t) for t in (targets, seed0.round(4), spread.round(4))) + "\n")
    with pd.option_context("display.width", 250, "display.max_colwidth", 80):
        print(f"\nfidelity per domain ({split} split; perplexity ratio to the float model, quantized ANN = SNN), "
              f"tokens {tokens}; ANN perplexity { {d: round(p, 2) for d, p in ann_ppl.items()} }\n")
        print(targets.to_string(index=False), "\n")
        print(seed0.round(4).to_string(index=False), "\n")
        print(spread.round(4).to_string(index=False))
    print(f"results in {out}")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="evaluation", choices=("validation", "evaluation"))
    p.add_argument("--quick", action="store_true", help="smoke run: 256 tokens per domain, 2 calibration chunks")
    p.add_argument("--only", help="rerun these T only (e.g. 6,7) and keep the saved record's other rows and chat rows")
    args = p.parse_args()
    main(args.split, args.quick, tuple(int(t) for t in args.only.split(",")) if args.only else None)
