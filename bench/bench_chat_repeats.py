"""Free-running chat at T = 8 on the selection conversations: does the spiking model repeat earlier replies?

SmolLM2-135M-Instruct with the package defaults (16 calibration chunks of the default mix, seed 0) answers the
validation and calibration conversations of `nbs/01_data.ipynb` (three turns each, 48 greedy tokens a reply) beside the
float model (`conversation_fidelity`): teacher-forced agreement, replies that repeat an earlier reply of the same
conversation where the float model's do not, and recall. `bench_chat_steps.py` scores agreement only, so it cannot
show repeats; this is the data to choose a remedy on. No evaluation conversation is used.

    python bench/bench_chat_repeats.py    # about 10 minutes on 2 cores; bench/results/domains/validation/chat_repeats.md
"""
import json, time
from pathlib import Path

import pandas as pd
import torch

from bench import markdown, write_atomic

HERE = Path(__file__).resolve().parent

def main(T:int=8):
    from stac_nb.calibrate import calibrate
    from stac_nb.chat import conversation_fidelity
    from stac_nb.convert import convert, spiking_label
    from stac_nb.data import conversations
    from stac_nb.models import load_model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    start = time.perf_counter()
    ann, tok = load_model()
    stats = calibrate(ann, tok, n=16, length=1024, seed=0, progress=False)  # the default mix, seed 0
    snn = convert(ann, tok, T, stats=stats, progress=False)
    frames = []
    for split in ("validation", "calibration"):
        f = conversation_fidelity(ann, snn, tok, conversations(split), max_new_tokens=48).reset_index()
        frames.append(f.assign(split=split, T=T))
        print(f.drop(columns=["last_reply_ann", "last_reply_snn"]).to_string(index=False), flush=True)
    every = pd.concat(frames)  # with each conversation's last replies, for the run record
    df = every[["split", "conversation", "T", "turns", "agreement", "new_repeats", "recalled_ann", "recall_missed"]]
    out = HERE/"results"/"domains"/"validation"
    write_atomic(out/"chat_repeats.md", markdown(df.round(4)) + "\n")
    record = dict(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), label=spiking_label(snn),
                  rows=every.to_dict("records"), seconds=time.perf_counter() - start)
    write_atomic(out/"chat_repeats.json", json.dumps(record, indent=1))
    print(df.round(4).to_string(index=False))

if __name__ == "__main__":
    main()
