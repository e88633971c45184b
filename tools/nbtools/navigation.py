"""Generated navigation, never edited by hand (the Python Data Science Handbook's way):

* in every lesson, each markdown cell tagged ``nav`` becomes ``Index · ← previous · next →``;
* in ``00_index.ipynb``, the markdown cell tagged ``toc`` becomes the table of lessons: number, title (linked when
  the notebook exists, "planned" otherwise), the Python topic it maps, and its teaching minutes.

``update(check=True)`` only reports which notebooks are stale; ``make test`` fails on them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .course import INDEX, LESSONS


def title_of(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def short_title(title: str) -> str:
    # "02 · Basic threads" → "Basic threads"
    return re.sub(r"^\s*\d+[a-z]?\s*[·:.\-–]\s*", "", title)


def lesson_order(folder: Path) -> list[str]:
    """Stems of the existing lesson notebooks, in course order (unplanned ones last, by name)."""
    existing = {p.stem for p in folder.glob("*.ipynb") if p.stem != INDEX}
    planned = [lesson.stem for lesson in LESSONS if lesson.stem in existing]
    extra = sorted(existing - set(planned))
    return planned + extra


def nav_source(stem: str, order: list[str], titles: dict[str, str]) -> str:
    i = order.index(stem)
    parts = [f"[Course index]({INDEX}.ipynb)"]
    if i > 0:
        prev = order[i - 1]
        parts.append(f"[← {short_title(titles[prev])}]({prev}.ipynb)")
    if i + 1 < len(order):
        nxt = order[i + 1]
        parts.append(f"[{short_title(titles[nxt])} →]({nxt}.ipynb)")
    return " · ".join(parts)


def toc_source(folder: Path, titles: dict[str, str], minutes: dict[str, int | None]) -> str:
    rows = [
        "| # | Lesson | Python topic | Minutes |",
        "|---|---|---|---|",
    ]
    total = 0
    for lesson in LESSONS:
        number = lesson.stem.split("_", 1)[0]
        if lesson.stem in titles:
            title = f"[{short_title(titles[lesson.stem])}]({lesson.stem}.ipynb)"
            mins = minutes.get(lesson.stem)
            total += mins or 0
            mins_text = str(mins) if mins else "–"
        else:
            title = f"{lesson.title} *(planned)*"
            mins_text = "–"
        rows.append(f"| {number} | {title} | {lesson.python} | {mins_text} |")
    rows.append("")
    if all(lesson.stem in titles for lesson in LESSONS):
        rows.append(f"Teaching time of the whole course: about {total} minutes (about {round(total / 60)} hours).")
    else:
        rows.append(f"Teaching time of the lessons written so far: about {total} minutes.")
    return "\n".join(rows)


def update(folder: Path, check: bool = False) -> list[str]:
    """Regenerates navigation; returns the names of notebooks that changed (or, with check, would change)."""
    folder = Path(folder)
    order = lesson_order(folder)
    notebooks = {stem: nbformat.read(folder / f"{stem}.ipynb", as_version=4) for stem in order}
    titles = {stem: title_of(nb) or stem for stem, nb in notebooks.items()}
    minutes = {stem: nb.metadata.get("course", {}).get("minutes") for stem, nb in notebooks.items()}
    changed = []

    def set_tagged(nb, tag: str, source: str) -> bool:
        dirty = False
        for cell in nb.cells:
            if tag in cell.get("metadata", {}).get("tags", []) and cell.source != source:
                cell.source = source
                dirty = True
        return dirty

    for stem, nb in notebooks.items():
        if set_tagged(nb, "nav", nav_source(stem, order, titles)):
            changed.append(f"{stem}.ipynb")
            if not check:
                nbformat.write(nb, folder / f"{stem}.ipynb")
    index_path = folder / f"{INDEX}.ipynb"
    if index_path.exists():
        index = nbformat.read(index_path, as_version=4)
        if set_tagged(index, "toc", toc_source(folder, titles, minutes)):
            changed.append(index_path.name)
            if not check:
                nbformat.write(index, index_path)
    return changed
