"""Free-running chat at T = 8 on the selection conversations: does the spiking model repeat earlier replies?

SmolLM2-135M-Instruct at T = 8, with the package defaults and with the defaults before the attention values' floor
(`v` at 12 steps, `nbs/03b_config.ipynb`), calibrated on 16 chunks of the default mix at seeds 0, 1 and 2, answers the
validation and calibration conversations of `nbs/01_data.ipynb` (three turns each, 48 greedy tokens a reply) beside the
float model (`conversation_fidelity`): teacher-forced agreement, replies that repeat an earlier reply of the same
conversation where the float model's do not, and recall. Spikes per token on the first 256 tokens of the first
validation conversation (seed 0), so the settings can be compared at their cost. `bench_chat_steps.py` scores
agreement only, so it cannot show repeats; this is the data the `v` floor was chosen on. No evaluation conversation
is used.

    python bench/bench_chat_repeats.py    # about 25 minutes on 2 cores; bench/results/domains/validation/chat_repeats.md
"""
import json, time
from pathlib import Path

import pandas as pd
import torch

from bench import markdown, write_atomic

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2)
SETTINGS = {"defaults": {}, "defaults without the v floor": dict(min_site_timesteps={"p": 8, "down": 8})}

def spikes_per_token(snn, tok) -> float:
    "Spikes per token of `snn` on the first 256 tokens of the first validation conversation, in the chat template."
    from stac_nb.data import domain_pieces
    ids = torch.tensor([tok(domain_pieces("chat", "validation", tok)[0]).input_ids[:256]])
    snn.reset_stats()
    with torch.no_grad(): snn(ids)
    return float(snn.spike_stats().spikes_per_token.sum())

def main(T:int=8):
    from stac_nb.calibrate import calibrate
    from stac_nb.chat import conversation_fidelity
    from stac_nb.config import ConversionConfig
    from stac_nb.convert import convert, spiking_label
    from stac_nb.data import conversations
    from stac_nb.models import load_model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    ann, tok = load_model()
    frames, labels, spikes = [], {}, {}
    for seed in SEEDS:
        stats = calibrate(ann, tok, n=16, length=1024, seed=seed, progress=False)  # the default mix
        for setting, fields in SETTINGS.items():
            snn = convert(ann, tok, T, config=ConversionConfig(calib_seed=seed, **fields), stats=stats, progress=False)
            labels[setting] = spiking_label(snn)
            if seed == 0: spikes[setting] = spikes_per_token(snn, tok)
            for split in ("validation", "calibration"):
                f = conversation_fidelity(ann, snn, tok, conversations(split), max_new_tokens=48).reset_index()
                frames.append(f.assign(setting=setting, seed=seed, split=split, T=T))
                print(f"[{time.perf_counter() - start:5.0f} s] {setting}, seed {seed}, {split}: agreement",
                      f.agreement.round(3).tolist(), "new repeats", f.new_repeats.tolist(), flush=True)
    every = pd.concat(frames)  # with each conversation's last replies, for the run record
    df = every[["setting", "seed", "split", "conversation", "turns", "agreement", "new_repeats", "recalled_ann", "recall_missed"]]
    summary = (df.groupby("setting", sort=False)
               .agg(turns=("turns", "sum"), new_repeats=("new_repeats", "sum"),
                    mean_agreement=("agreement", "mean"), worst_agreement=("agreement", "min"),
                    recall_missed=("recall_missed", "sum")).reset_index())
    summary["label"], summary["spikes_per_token"] = summary.setting.map(labels), summary.setting.map(spikes)
    out = HERE/"results"/"domains"/"validation"
    write_atomic(out/"chat_repeats.md", "\n\n".join(markdown(t.round(4)) for t in (summary, df)) + "\n")
    record = dict(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), T=T, seeds=SEEDS, settings=SETTINGS, labels=labels,
                  summary=summary.to_dict("records"), rows=every.to_dict("records"), seconds=time.perf_counter() - start)
    write_atomic(out/"chat_repeats.json", json.dumps(record, indent=1))
    print(summary.round(4).to_string(index=False), "\n\n", df.round(4).to_string(index=False))

if __name__ == "__main__":
    main()
