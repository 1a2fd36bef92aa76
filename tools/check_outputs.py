"""Fail when a notebook is saved with an error in its outputs (part of `make test`).

A notebook whose saved outputs show an exception documents a failure as if it were a result, and `nbdev_test`
does not notice: it re-runs the cells and ignores what was saved. This scans every code cell's saved outputs and
reports each cell that has an output of type `error`, or a stream or text output containing a Python traceback.

    python tools/check_outputs.py                  # nbs/*.ipynb
    python tools/check_outputs.py a.ipynb b.ipynb  # the given notebooks

Prints one line per offending cell (notebook, cell index, cell id, error name) and exits with status 1 if there is
one; otherwise prints a one-line summary and exits with status 0.
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
TRACEBACK = "Traceback (most recent call last)"

def _text(output) -> str:
    "The text of a stream output, or the plain text of a display or execute result."
    t = output.get("text") if output.get("output_type") == "stream" else output.get("data", {}).get("text/plain", "")
    return "".join(t) if isinstance(t, list) else (t or "")

def _error_name(text:str) -> str:
    "The exception named on the last `Name: message` line of a traceback (colour codes removed), or 'Traceback'."
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    names = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception|Interrupt|Exit|Warning)\b)", text, flags=re.M)
    return names[-1] if names else "Traceback"

def saved_errors(path) -> list:
    "`(cell index, cell id, error name)` of each code cell of the notebook at `path` with an error in its saved outputs."
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code": continue
        outs = cell.get("outputs", [])
        names = [o.get("ename") or "error" for o in outs if o.get("output_type") == "error"]  # the exception's own name first
        names += [_error_name(_text(o)) for o in outs if o.get("output_type") != "error" and TRACEBACK in _text(o)]
        if names: found.append((i, cell.get("id", "?"), names[0]))  # one line per cell
    return found

def main(paths) -> int:
    paths = [Path(p) for p in paths] or sorted((root/"nbs").glob("*.ipynb"))
    bad = [(p, *e) for p in paths for e in saved_errors(p)]
    for p, i, cid, name in bad:
        shown = p.resolve().relative_to(root) if p.resolve().is_relative_to(root) else p
        print(f"FAIL: {shown} cell {i} (id {cid}) has a saved error output: {name}")
    if not bad: print(f"no saved error outputs in {len(paths)} notebooks")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
