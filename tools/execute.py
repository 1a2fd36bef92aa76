"""Execute notebooks in place and save their outputs, the way `nbdev_test` runs them (working directory `nbs/`).

Cells marked with a skipped flag (default: `slow`) are not run and keep the outputs they were saved with, so a
notebook's fast cells can be rerun without the minutes its real-model cells take. Stops at the first error, and then
writes nothing. Usage: `.venv/bin/python tools/execute.py nbs/04_convert.ipynb [...] [--run-slow]`; then `nbdev_clean`.
"""
import os, sys
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

def execute(path:Path, skip=("slow",)):
    "Run every code cell of notebook `path` except those marked `#| <flag>` for a flag in `skip`; save the outputs."
    nb = read_nb(path)
    def skipped(cell):
        if cell.cell_type != "code": return True
        flags = {l.strip()[3:].split()[0] for l in cell.source.splitlines() if l.strip().startswith("#| ") and len(l.strip()) > 3}
        if flags & set(skip): return True
        cell.outputs = []  # execnb keeps a cell's old outputs when it prints nothing: never leave stale ones
        return False
    shell, cwd = CaptureShell(path), os.getcwd()
    os.chdir(path.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=skipped)
    except Exception:
        sys.exit(f"{path}: a cell failed, nothing written\n{shell.prettytb(fname=path)}")
    finally: os.chdir(cwd)
    write_nb(nb, path)
    print(f"executed {path}")

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for p in args: execute(Path(p).resolve(), skip=() if "--run-slow" in sys.argv else ("slow",))
