"""Why rate coding trails SpikingJelly's recipe at its coverage: query/key scales shared by each RoPE pair (ours) vs per dimension (the recipe's).

Rate coding, sites q/k/v/down, each channel's max |x| (headroom 1, as the recipe), 16 calibration chunks, first 1,024 evaluation tokens.
Per-dimension scales are set by switching off the pair sharing in the calibration statistics (`SiteStats.rope`).
Measured 2026-11-27 (2 CPU threads): T=8 162.46 -> 112.05, T=16 44.67 -> 43.16, T=32 32.09 -> 30.87 (recipe: 113.96 / 45.53 / 31.04).

    .venv/bin/python bench/rate_rope_check.py
"""
import torch
from stac_nb.models import load_model
from stac_nb.data import load_text
from stac_nb.calibrate import calibrate
from stac_nb.convert import convert
from stac_nb.evaluate import perplexity
torch.set_num_threads(2)
ann, tok = load_model(); text = load_text()
stats = calibrate(ann, tok, n=16, length=1024, progress=False)
kw = dict(coding="rate", stats=stats, progress=False, sites=("q", "k", "v", "down"), scale_method="max", headroom=1.0)
for T in (8, 16, 32):
    shared = perplexity(convert(ann, tok, T, **kw).qann(), tok, text, max_tokens=1024, progress=False)
    for st in stats.sites.values(): st.rope = False
    per_dim = perplexity(convert(ann, tok, T, **kw).qann(), tok, text, max_tokens=1024, progress=False)
    for name, st in stats.sites.items(): st.rope = name.endswith((".q", ".k"))
    print(f"rate T={T}, recipe coverage, max scales x1: RoPE-pair scales {shared:.2f}, per-dimension scales {per_dim:.2f}", flush=True)
