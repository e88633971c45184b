"""Notebooks are committed clean: valid nbformat 4, the Rust kernel named, no outputs or execution counts, known
tags, slide metadata on every cell, and (lessons) an exercise with its solution and check."""

from __future__ import annotations

from pathlib import Path

import nbformat

KNOWN_TAGS = {"raises-exception", "expect-panic", "setup", "exercise", "solution", "check", "wrong", "nav", "toc"}
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


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
    return problems


def check_all(paths) -> list[str]:
    problems = []
    for path in paths:
        problems += check(Path(path))
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
