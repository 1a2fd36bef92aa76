"""`make bench-large`: stac_nb on Qwen2.5-Coder-1.5B-Instruct (Qwen2, 1.78B parameters), offline after `make models`.

Three tables, one run, this machine; tables and the run record go to `bench/results/large/`:

1. perplexity of the float model, its quantized ANNs at few-spike T=8 and T=16 (the package defaults: the calibration
   mix, 4 extra high-order steps at the down sites) and the spiking model itself at T=8 (which must equal its QANN), on
   the first tokens of the Lee evaluation text, with load, calibration and conversion times and the peak resident memory;
2. SpikingJelly's own `Qwen2SNNRecipe` at T=8/16/32 beside ours, on a shorter slice (the recipe runs every call over
   T steps of its whole network: minutes per call at this size), calibrated on the same chunks;
3. a coding chat: the float model answers three coding conversations of three turns; each converted model is scored by
   teacher-forced agreement with its replies, and the T=8 spiking model writes its own reply to each first turn.

`--conversations` measures instead what the 135M model could not show: over the evaluation and validation conversations
of `01_data` (free-running replies beside the float model's, `conversation_fidelity`), does the spiking model repeat an
earlier reply where the float model does not, and does it recall the facts of earlier turns whenever the float model
does? Tables go to `conversations.md` and `conversations.json`.

    python bench/bench_large.py                    # 1,024 tokens, 8 calibration chunks of 1,024 tokens
    python bench/bench_large.py --calib-samples 2  # shorter
    python bench/bench_large.py --conversations    # repeats and recall at T = 8 and 16 (about 40 minutes)
"""
import argparse, json, math, time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch

from bench import markdown, peak_rss_gb, write_atomic, SEED

HERE = Path(__file__).resolve().parent
# Written for this bench, never tuned on: what a user of a coding model asks.
CODING = [["Write a Python function that checks whether a string is a palindrome.",
           "Now make it ignore case, spaces and punctuation.",
           "Add a docstring with two doctest examples."],
          ["What does the `yield` keyword do in Python? Show a short example.",
           "Write a generator that yields the Fibonacci numbers below n.",
           "How do I take only the first five of them?"],
          ["Explain the difference between a list and a tuple in Python in two sentences.",
           "Write a function that merges two sorted lists into one sorted list.",
           "What is its time complexity?"]]

def measure(model, ids, tokens):
    "Mean NLL, top-1 predictions and seconds of `model` on `ids` (one window of `tokens`)."
    from stac_nb.evaluate import nll_and_top1
    begin = time.perf_counter()
    with torch.no_grad(): nll, top1 = nll_and_top1(model, ids, context=tokens, stride=tokens // 2, progress=False)
    return math.exp(nll.double().mean()), top1, time.perf_counter() - begin

def row(label, model, ids, tokens, ann):
    "A table row of `model` beside the float model's `(ppl, top1)` on the same ids."
    ppl, top1, s = measure(model, ids, tokens)
    return dict(model=label, ppl=ppl, ratio=ppl / ann[0], top1=(top1 == ann[1]).double().mean().item(), seconds=round(s, 1))

def float_sessions(ann, tok, max_new_tokens:int) -> list:
    "The float model's three coding conversations (`CODING`), greedy, as chat sessions."
    from stac_nb.chat import ChatSession
    sessions = [ChatSession(ann, tok) for _ in CODING]
    for session, conv in zip(sessions, CODING):
        for text in conv: session.say(text, max_new_tokens=max_new_tokens)
    return sessions

def agreement(sessions:list, model) -> list:
    "Teacher-forced agreement of `model` with each float session's replies."
    from stac_nb.chat import reply_agreement
    return [round(reply_agreement(s, model), 4) for s in sessions]

def main(model:str, out:Path, calib_samples:int, calib_len:int, tokens:int, recipe_tokens:int, chat_tokens:int):
    from stac_nb.baseline import recipe_convert
    from stac_nb.calibrate import calibrate
    from stac_nb.convert import convert
    from stac_nb.data import calibration_texts, load_text
    from stac_nb.evaluate import token_ids
    from stac_nb.models import load_model
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    record, start = dict(model=model, calib_samples=calib_samples, calib_len=calib_len, tokens=tokens,
                         recipe_tokens=recipe_tokens, seed=SEED,
                         versions={p: version(p) for p in ("torch", "transformers", "spikingjelly", "stac_nb")}), time.perf_counter()
    ann, tok = load_model(model)
    record["load_s"] = round(time.perf_counter() - start, 1)
    text = load_text()
    ids, short = token_ids(tok, text, tokens), token_ids(tok, text, recipe_tokens)
    ref, ref_short = measure(ann, ids, tokens), measure(ann, short, recipe_tokens)
    begin = time.perf_counter()
    calib = calibration_texts(calib_samples, calib_len, tok, SEED)
    stats = calibrate(ann, tok, n=calib_samples, length=calib_len, progress=False, texts=calib)
    record["calibrate_s"] = round(time.perf_counter() - begin, 1)
    rows = [dict(model="ANN (float32)", ppl=ref[0], ratio=1.0, top1=1.0, seconds=round(ref[2], 1))]
    short_rows = [dict(model="ANN (float32)", ppl=ref_short[0], ratio=1.0, top1=1.0, seconds=round(ref_short[2], 1))]
    snns = {}
    for T in (8, 16):
        begin = time.perf_counter()
        snns[T] = convert(ann, tok, stats=stats, timesteps=T)
        record[f"convert_s T={T}"] = round(time.perf_counter() - begin, 1)
        rows.append(row(f"QANN fewspike T={T} (defaults)", snns[T].qann(), ids, tokens, ref))
        if T == 8: rows.append(row(f"SNN fewspike T={T} (defaults)", snns[T], ids, tokens, ref))
        short_rows.append(row(f"stac_nb QANN fewspike T={T} (defaults)", snns[T].qann(), short, recipe_tokens, ref_short))
    from stac_nb.chat import ChatSession
    sessions = float_sessions(ann, tok, chat_tokens)
    chat = pd.DataFrame(dict(conversation=range(len(CODING)), reply_tokens=[sum(len(e["reply"]) for e in s._exchanges) for s in sessions],
                             **{f"SNN T={T}": agreement(sessions, snns[T]) for T in snns}))
    replies = [dict(user=conv[0], ann=tok.decode(s._exchanges[0]["reply"], skip_special_tokens=True),
                    snn_t8=ChatSession(snns[8], tok).say(conv[0], max_new_tokens=chat_tokens)) for s, conv in zip(sessions, CODING)]
    record["peak_rss_gb_before_recipe"] = round(peak_rss_gb(), 2)
    del snns
    for T in (8, 16, 32):  # the recipe copies the weights: one conversion at a time
        begin = time.perf_counter()
        recipe = recipe_convert(ann, tok, T, calib_texts=calib, calib_len=calib_len)
        record[f"recipe_convert_s T={T}"] = round(time.perf_counter() - begin, 1)
        short_rows.append(row(f"SpikingJelly Qwen2SNNRecipe T={T}", recipe, short, recipe_tokens, ref_short))
        if T == 8: chat["recipe T=8"] = agreement(sessions, recipe)
        del recipe
    record.update(peak_rss_gb=round(peak_rss_gb(), 2), total_s=round(time.perf_counter() - start, 1),
                  rows=rows, recipe_rows=short_rows, chat=chat.to_dict("records"), replies=replies)
    tables = [("Perplexity, first %d evaluation tokens" % tokens, pd.DataFrame(rows)),
              ("Beside SpikingJelly's recipe, first %d tokens" % recipe_tokens, pd.DataFrame(short_rows)),
              ("Coding chat: teacher-forced agreement with the float model's replies", chat)]
    report = "\n\n".join(f"### {title}\n\n{markdown(t)}" for title, t in tables)
    write_atomic(out/"record.json", json.dumps(record, indent=1))
    write_atomic(out/"table.md", report + "\n")
    print(report); print({k: v for k, v in record.items() if k not in ("rows", "recipe_rows", "chat", "replies")})

def conversations(model:str, out:Path, calib_samples:int, calib_len:int, reply_tokens:int=48):
    "Teacher-forced agreement, new repeats and missed recalls of the defaults at T = 8 and 16 on two conversation splits."
    from stac_nb.calibrate import calibrate
    from stac_nb.chat import conversation_fidelity
    from stac_nb.convert import convert
    from stac_nb.data import calibration_texts, conversations as split_conversations
    from stac_nb.models import load_model
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    start = time.perf_counter()
    ann, tok = load_model(model)
    calib = calibration_texts(calib_samples, calib_len, tok, SEED)
    stats = calibrate(ann, tok, n=calib_samples, length=calib_len, progress=False, texts=calib)
    rows, per_conversation = [], {}
    for T in (8, 16):
        snn = convert(ann, tok, stats=stats, timesteps=T, progress=False)
        for split in ("evaluation", "validation"):
            f = conversation_fidelity(ann, snn, tok, split_conversations(split), max_new_tokens=reply_tokens)
            per_conversation[f"{split} T={T}"] = f.reset_index().to_dict("records")
            rows.append(dict(split=split, T=T, conversations=len(f), turns=int(f.turns.sum()), mean_agreement=f.agreement.mean(),
                             worst_agreement=f.agreement.min(), new_repeats=int(f.new_repeats.sum()),
                             recalled_by_float=int(f.recalled_ann.sum()), recall_missed=int(f.recall_missed.sum())))
            print(rows[-1], f"[{time.perf_counter() - start:.0f} s]", flush=True)
    record = dict(model=model, calib_samples=calib_samples, calib_len=calib_len, reply_tokens=reply_tokens, seed=SEED,
                  total_s=round(time.perf_counter() - start, 1), rows=rows, conversations=per_conversation,
                  versions={p: version(p) for p in ("torch", "transformers", "spikingjelly", "stac_nb")})
    report = f"### Conversations of `01_data`: the defaults beside the float model ({model})\n\n{markdown(pd.DataFrame(rows))}\n"
    write_atomic(out/"conversations.json", json.dumps(record, indent=1))
    write_atomic(out/"conversations.md", report)
    print(report)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct", help="a Qwen2 or bias-free Llama model")
    ap.add_argument("--out", type=Path, default=HERE/"results"/"large")
    ap.add_argument("--calib-samples", type=int, default=8)
    ap.add_argument("--calib-len", type=int, default=1024)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--recipe-tokens", type=int, default=256)
    ap.add_argument("--chat-tokens", type=int, default=64, help="reply length in the coding chat")
    ap.add_argument("--conversations", action="store_true", help="only the repeats-and-recall table (see above)")
    a = ap.parse_args()
    if a.conversations: conversations(a.model, a.out, a.calib_samples, a.calib_len)
    else: main(a.model, a.out, a.calib_samples, a.calib_len, a.tokens, a.recipe_tokens, a.chat_tokens)
