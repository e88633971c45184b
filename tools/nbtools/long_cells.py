"""Cells of one idea: a code cell over ``MAX_LINES`` lines fails the hygiene check (``make check-notebooks``)
unless it is listed below, with a reason, by notebook stem and cell id (ids are stable, indices are not).

The list only shrinks: a listed cell that is now ``MAX_LINES`` lines or shorter, or that no longer exists, fails
too — take it off the list. Raw cells (the ``wrong`` answers, hidden test fixtures that nobody reads on a slide)
are not checked. Lines are counted as a learner sees them: the cell's source without trailing blank lines.

The list, as Python, for today's notebooks (reasons already given are kept; new entries get "to split"):

    PYTHONPATH=tools .venv/bin/python -c "import glob; from nbtools import long_cells; \
        print(long_cells.report(glob.glob('notebooks/*.ipynb')))"
"""

from __future__ import annotations

from pathlib import Path

MAX_LINES = 25
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"  # the course's (EXEMPT's stems are theirs)

# {notebook stem: {cell id: reason}}. A reason says why this cell needs the space, or what will split it.
EXEMPT: dict[str, dict[str, str]] = {}


def lines(source: str) -> int:
    return len(source.rstrip().splitlines())


def long_cells(nb) -> list[tuple[int, str, int]]:
    """(index, id, lines) of every code cell over MAX_LINES lines."""
    return [(i, c.get("id", ""), lines(c.source)) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and lines(c.source) > MAX_LINES]


def check(name: str, nb, exempt: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Problems in one notebook (name: its file name): unlisted long cells, stale or reasonless entries."""
    exempt = EXEMPT if exempt is None else exempt
    stem = Path(name).stem
    listed = exempt.get(stem, {})
    problems = []
    long = {cid: (i, n) for i, cid, n in long_cells(nb)}
    for cid, (i, n) in long.items():
        if cid not in listed:
            problems.append(
                f"{name}: cell {i} (id {cid}): {n} lines of code, over {MAX_LINES} — split it into cells of one idea "
                f"(or move shared plumbing into support), or list it with a reason in tools/nbtools/long_cells.py"
            )
    ids = {c.get("id"): (i, lines(c.source)) for i, c in enumerate(nb.cells)}
    for cid, reason in listed.items():
        if not str(reason).strip():
            problems.append(f"{name}: long_cells.py lists cell id {cid} without a reason")
        if cid not in ids:
            problems.append(f"{name}: long_cells.py lists cell id {cid}, which is no longer in the notebook — take it off the list")
        elif cid not in long:
            i, n = ids[cid]
            what = "not a code cell" if nb.cells[i].cell_type != "code" else f"{n} lines now"
            problems.append(f"{name}: cell {i} (id {cid}) is {what}, within the limit — take it off long_cells.py")
    return problems


def check_missing_notebooks(folder: Path, exempt: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Entries for notebooks that are no longer in folder."""
    exempt = EXEMPT if exempt is None else exempt
    return [f"long_cells.py lists {stem}.ipynb, which is not in {folder} — take its entries off the list"
            for stem in sorted(exempt) if not (folder / f"{stem}.ipynb").is_file()]


def report(paths, reason: str = "to split (issue 17)") -> str:
    """The EXEMPT dict as Python source for the long cells of these notebooks (existing reasons kept)."""
    import nbformat

    out = ["EXEMPT: dict[str, dict[str, str]] = {"]
    for path in sorted(Path(p) for p in paths):
        nb = nbformat.read(path, as_version=4)
        found = long_cells(nb)
        if not found:
            continue
        out.append(f"    {path.stem!r}: {{")
        for i, cid, n in found:
            why = EXEMPT.get(path.stem, {}).get(cid, reason)
            out.append(f"        {cid!r}: {why!r},")
        out.append("    },")
    out.append("}")
    return "\n".join(out)
