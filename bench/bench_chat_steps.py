"""Where extra timesteps buy chat fidelity at T = 8 (SmolLM2-135M-Instruct, selection data only).

The float model answers the validation and calibration conversations of `nbs/01_data.ipynb` (eight conversations,
three turns, 48 greedy tokens a reply); each setting's quantized ANN (which the spiking model equals exactly) is then
fed those conversations and scored on the float model's reply tokens: teacher-forced agreement (argmax), and the mean
KL divergence KL(float || spiking) over every position, which moves smoothly where agreement moves by whole tokens.
Spikes per token come from the spiking model on the first 256 tokens of the first conversation. Rows: the defaults at
T = 8, one site kind (or a few) at 12 steps on top of the defaults' floors, and the defaults at T = 9 and 10, so that
floors can be compared with one more step everywhere at equal spikes. "defaults" are those before the floor of 12 steps
at the attention values (`v`), which this study and `bench_chat_repeats.py` led to (`nbs/03b_config.ipynb`); every
row names its floors explicitly, so it reproduces. No evaluation conversation is used.

    python bench/bench_chat_steps.py    # about 8 minutes on 2 cores; bench/results/domains/validation/chat_steps.md
"""
import json, time
from pathlib import Path

import pandas as pd
import torch

from bench import markdown, write_atomic

HERE = Path(__file__).resolve().parent
FLOORS = {"p": 8, "down": 8}  # the few-spike floors when this study ran, before the v floor it led to; kept in every row
ROWS = {"T=8 defaults": (8, {}), **{f"T=8, {k} at 12": (8, {x: 12 for x in k.split("+")})
                                     for k in ("p", "q", "k", "v", "qkv", "o", "gate_up", "down", "head", "v+k", "down+v+k")},
        "T=9 defaults": (9, {}), "T=10 defaults": (10, {})}

def main():
    from stac_nb.calibrate import calibrate
    from stac_nb.chat import ChatSession, reply_agreement
    from stac_nb.config import ConversionConfig
    from stac_nb.convert import convert
    from stac_nb.data import conversations
    from stac_nb.models import load_model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    ann, tok = load_model()
    stats = calibrate(ann, tok, n=16, length=1024, seed=0, progress=False)  # the default mix, seed 0
    refs = []
    for conv in conversations("validation") + conversations("calibration"):
        session = ChatSession(ann, tok)
        for x in conv: session.say(x["user"], max_new_tokens=48)
        refs.append(session)
    rows = []
    for label, (T, floors) in ROWS.items():
        snn = convert(ann, tok, T, config=ConversionConfig(min_site_timesteps={**FLOORS, **floors}), stats=stats, progress=False)
        q, kl, positions = snn.qann(), 0.0, 0
        for ref in refs:
            ids = torch.tensor([ref.ids])
            with torch.no_grad(): a, b = ann(ids).logits[0].log_softmax(-1), q(ids).logits[0].log_softmax(-1)
            kl, positions = kl + (a.exp() * (a - b)).sum().item(), positions + ids.shape[1]
        snn.reset_stats()
        with torch.no_grad(): snn(torch.tensor([refs[0].ids[:256]]))
        rows.append(dict(setting=label, agreement=sum(reply_agreement(r, q) for r in refs) / len(refs), kl=kl / positions,
                         spikes_per_token=round(snn.spike_stats().spikes_per_token.sum())))
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    base = df.iloc[0]
    df["kl_vs_T8"], df["spikes_vs_T8"] = df.kl / base.kl, df.spikes_per_token / base.spikes_per_token
    out = HERE/"results"/"domains"/"validation"
    write_atomic(out/"chat_steps.md", markdown(df.round(5)) + "\n")
    write_atomic(out/"chat_steps.json", json.dumps(dict(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), rows=rows,
                                                        seconds=time.perf_counter() - start), indent=1))
    print(df.round(5).to_string(index=False))

if __name__ == "__main__":
    main()
