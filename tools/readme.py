"""Write README.md from nbs/index.ipynb (or `--check` that it is in step), offline.

`nbdev_readme` needs Quarto, which is not installable here; nbconvert's markdown exporter is.
Cells marked `#| hide` are left out and nbdev directives are stripped, as the docs site does.
"""
import re, sys
from pathlib import Path

import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent

def readme_text(nb_path=root/'nbs'/'index.ipynb'):
    "The README markdown rendered from the index notebook."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type == 'code' and any(l.strip().replace(' ', '') == '#|hide' for l in lines): continue
        cell.source = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        cells.append(cell)
    nb.cells = cells
    nb.metadata['language_info'] = {'name': 'python'}  # fenced code blocks say ```python
    body, _ = MarkdownExporter().from_notebook_node(nb)
    body = re.sub(r'\]\((?!https?:|/|#)([^)]+\.png)\)', r'](nbs/\1)', body)  # images relative to nbs/ (the docs root)
    return re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'

if __name__ == '__main__':
    text, readme = readme_text(), root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('FAIL: README.md is out of step with nbs/index.ipynb: run `make readme` and commit.')
        print('README.md is in step with nbs/index.ipynb')
    else:
        readme.write_text(text, encoding='utf-8')
        print(f'wrote {readme}')
