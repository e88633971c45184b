"""Notebooks are committed clean: valid nbformat 4, the Rust kernel named, no outputs or execution counts, known
tags, slide metadata on every cell, no code cell over 25 lines unless listed with a reason (long_cells.py), and
(lessons) an exercise with its solution and check.

Exercise shape (CONTRIBUTING.md, "lesson shape"): stub (``exercise``), ``check``, a "Stuck?" note, ``solution``
(after every check of its exercise: Run All must judge the learner's stub, never ours), then at least
``MIN_WRONG`` wrong answers: raw cells (Run All never runs them) tagged ``wrong``, slide type skip, source
collapsed, whose first line ``// WRONG: …`` says what is wrong."""

from __future__ import annotations

from pathlib import Path

import nbformat

from . import long_cells
from .runner import exercise_groups

KNOWN_TAGS = {"raises-exception", "expect-panic", "setup", "exercise", "solution", "check", "wrong", "nav", "toc",
              "slides-hide-input", "slides-split-output"}
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
MIN_WRONG = 2  # wrong answers per exercise
WRONG_MARK = "// WRONG:"


def check_exercises(name: str, nb) -> list[str]:
    """The exercise shape: solutions after their checks, wrong answers that are raw, tagged and say what is wrong."""
    problems = []
    groups = exercise_groups(nb)
    in_group = {i for g in groups for i in g["wrongs"]}
    for i, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        first = cell.source.lstrip().splitlines()[0].strip() if cell.source.strip() else ""
        if "wrong" in tags:
            if cell.cell_type != "raw":
                problems.append(f"{name}: cell {i}: a wrong answer must be a raw cell (Run All would run a {cell.cell_type} cell)")
            if not first.startswith(WRONG_MARK) or not first[len(WRONG_MARK):].strip():
                problems.append(f"{name}: cell {i}: a wrong answer's first line must say what is wrong: `{WRONG_MARK} …`")
            meta = cell.get("metadata", {})
            if meta.get("slideshow", {}).get("slide_type") != "skip":
                problems.append(f"{name}: cell {i}: a wrong answer must have slide type skip (never on a slide)")
            if not meta.get("jupyter", {}).get("source_hidden"):
                problems.append(f"{name}: cell {i}: a wrong answer must have its source collapsed (metadata.jupyter.source_hidden)")
            if i not in in_group:
                problems.append(f"{name}: cell {i}: a wrong answer with no exercise stub (tag exercise) above it")
    for g in groups:
        where = f"{name}: exercise at cell {g['exercise']}"
        if g["checks"]:
            early = [s for s in g["solutions"] if s < max(g["checks"])]
            if early:
                problems.append(
                    f"{where}: solution cell {early[0]} stands before check cell {max(g['checks'])}: Run All would "
                    "judge our solution instead of the learner's stub (order: stub, check, Stuck?, solution, wrong answers)"
                )
        if len(g["wrongs"]) < MIN_WRONG:
            problems.append(
                f"{where}: {len(g['wrongs'])} wrong answers, at least {MIN_WRONG} wanted (raw cells tagged wrong, "
                f"first line `{WRONG_MARK} …`; nbtools.author.wrong)"
            )
    return problems


def check(path: Path) -> list[str]:
    name = path.name
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as error:
        return [f"{name}: not a readable notebook ({error})"]
    problems = []
    if nb.get("nbformat") != 4:
        problems.append(f"{name}: nbformat {nb.get('nbformat')}, expected 4")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        problems.append(f"{name}: invalid nbformat: {str(error).splitlines()[0]}")
    spec = nb.metadata.get("kernelspec", {})
    if spec.get("name") != "rust" or spec.get("language") != "rust":
        problems.append(f"{name}: kernelspec must be the evcxr kernel (name 'rust', language 'rust'), got {dict(spec)}")
    tags_seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        tags_seen |= tags
        unknown = tags - KNOWN_TAGS
        if unknown:
            problems.append(f"{name}: cell {i}: unknown tags {sorted(unknown)} (known: {sorted(KNOWN_TAGS)})")
        slide = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if slide not in SLIDE_TYPES:
            problems.append(f"{name}: cell {i}: metadata.slideshow.slide_type missing or unknown ({slide!r})")
        if cell.cell_type == "code":
            if cell.get("outputs"):
                problems.append(f"{name}: cell {i}: committed with outputs (clear them: `make clean-notebooks`)")
            if cell.get("execution_count") is not None:
                problems.append(f"{name}: cell {i}: committed with an execution count")
            if "solution" in tags and not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                problems.append(f"{name}: cell {i}: solution cell must have its source collapsed (metadata.jupyter.source_hidden)")
        elif tags & {"raises-exception", "expect-panic", "setup", "solution", "check", "exercise"}:
            problems.append(f"{name}: cell {i}: tags {sorted(tags)} belong on code cells")
    if not name.startswith("00_") and not {"solution", "check"} <= tags_seen:
        problems.append(f"{name}: no exercise (cells tagged solution and check)")
    problems += check_exercises(name, nb)
    problems += long_cells.check(name, nb)  # code cells over 25 lines, unless listed with a reason
    return problems


def check_all(paths) -> list[str]:
    problems = []
    paths = [Path(p) for p in paths]
    for path in paths:
        problems += check(path)
    if long_cells.NOTEBOOKS in {p.resolve().parent for p in paths}:
        problems += long_cells.check_missing_notebooks(long_cells.NOTEBOOKS)
    return problems


def strip_outputs(path: Path) -> bool:
    """Removes outputs and execution counts; returns whether the file changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs = []
            cell.execution_count = None
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed
