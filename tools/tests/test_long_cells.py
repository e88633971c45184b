"""Cells of one idea (tools/nbtools/long_cells.py): a code cell over 25 lines fails hygiene unless listed with a
reason by notebook stem and cell id; the list cannot go stale; raw wrong answers are not checked."""

from __future__ import annotations

from pathlib import Path

import nbformat

from nbtools import hygiene, long_cells
from nbtools.author import code, md, wrong, write_notebook

LONG = "\n".join(f"let x{i} = {i};" for i in range(26))  # 26 lines
SHORT = "\n".join(f"let x{i} = {i};" for i in range(25)) + "\n\n\n"  # 25 lines and trailing blank lines


def notebook(tmp_path: Path, *cells, name="01_x.ipynb"):
    path = write_notebook(tmp_path / name, [md("# 01 · X"), *cells], minutes=10)
    return path, nbformat.read(path, as_version=4)


def test_a_long_code_cell_fails_unless_listed_with_a_reason(tmp_path):
    path, nb = notebook(tmp_path, code(SHORT), code(LONG))
    cid = nb.cells[2].id
    found = long_cells.check(path.name, nb, exempt={})
    assert len(found) == 1 and f"cell 2 (id {cid}): 26 lines of code, over 25" in found[0]
    assert long_cells.check(path.name, nb, exempt={"01_x": {cid: "a chart's whole figure"}}) == []
    assert "without a reason" in "\n".join(long_cells.check(path.name, nb, exempt={"01_x": {cid: " "}}))


def test_raw_wrong_answers_are_not_checked(tmp_path):
    path, nb = notebook(tmp_path, wrong("// WRONG: too long\n" + LONG))
    assert long_cells.check(path.name, nb, exempt={}) == []


def test_stale_entries_fail(tmp_path):
    path, nb = notebook(tmp_path, code(SHORT), md(LONG))
    exempt = {"01_x": {nb.cells[1].id: "was long", nb.cells[2].id: "was code", "gone1234": "deleted cell"}}
    found = "\n".join(long_cells.check(path.name, nb, exempt=exempt))
    assert f"cell 1 (id {nb.cells[1].id}) is 25 lines now, within the limit" in found
    assert f"cell 2 (id {nb.cells[2].id}) is not a code cell" in found
    assert "gone1234, which is no longer in the notebook" in found
    missing = long_cells.check_missing_notebooks(tmp_path, exempt={"01_x": {}, "99_gone": {"a": "b"}})
    assert len(missing) == 1 and "99_gone.ipynb" in missing[0]


def test_hygiene_runs_the_check(tmp_path):
    path, _ = notebook(tmp_path, code(LONG))
    assert any("over 25" in p for p in hygiene.check(path))


def test_the_course_list_is_current():
    # Every entry names a notebook, a cell that exists and is still long, with a reason (hygiene says which not).
    notebooks = sorted(long_cells.NOTEBOOKS.glob("*.ipynb"))
    problems = long_cells.check_missing_notebooks(long_cells.NOTEBOOKS)
    for path in notebooks:
        problems += long_cells.check(path.name, nbformat.read(path, as_version=4))
    assert problems == []
