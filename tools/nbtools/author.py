"""Helpers for writing lesson notebooks from a script, with the metadata the course needs already right.

    from nbtools.author import md, code, write_notebook
    cells = [
        md("# 02 · Basic threads\\n\\nWhat you will learn: …"),
        md("", tags=["nav"], slide="-"),             # filled by `make nav`
        code(':dep support = { path = "../support" }', tags=["setup"]),
        code("let x: i32 = \\"a\\";", tags=["raises-exception"], slide="fragment"),
        code("fn solve() -> u64 { 0 }", tags=["exercise"]),
        code("assert_eq!(solve(), 42);", tags=["check"]),
        md("**Stuck?** …", slide="skip"),
        code("fn solve() -> u64 { 42 }", tags=["solution"]),   # source collapsed automatically
        wrong("// WRONG: the answer to another question\nfn solve() -> u64 { 41 }"),
        wrong("// WRONG: off by one the other way\nfn solve() -> u64 { 43 }"),
    ]
    write_notebook("notebooks/02_basic_threading.ipynb", cells, minutes=25)

Slide types: "slide" (new slide), "subslide", "fragment", "-" (same slide), "skip", "notes" (speaker notes).
Markdown cells default to a new slide when they start with a heading, otherwise "-"; code cells default to "-".
"""

from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"name": "rust", "display_name": "Rust", "language": "rust"}
LANGUAGE_INFO = {
    "name": "Rust",
    "codemirror_mode": "rust",
    "file_extension": ".rs",
    "mimetype": "text/rust",
    "pygment_lexer": "rust",
    "version": "",
}


def _meta(tags, slide):
    meta = {"slideshow": {"slide_type": slide}}
    if tags:
        meta["tags"] = list(tags)
    return meta


def md(source: str, tags=(), slide: str | None = None):
    source = source.strip("\n")
    if slide is None:
        slide = "slide" if source.startswith("#") else "-"
    return nbformat.v4.new_markdown_cell(source, metadata=_meta(tags, slide))


def notes(source: str):
    """Speaker notes for the teacher: shown in the slides' speaker view, not on the slide."""
    return md(source, slide="notes")


def code(source: str, tags=(), slide: str = "-", timeout: float | None = None):
    meta = _meta(tags, slide)
    if "solution" in tags:
        meta["jupyter"] = {"source_hidden": True}
    if timeout is not None:
        meta["timeout"] = timeout
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=meta)


def wrong(source: str):
    """A plausible wrong answer to the exercise above it: a raw cell (Run All never runs it), tag ``wrong``, left
    out of the slides, source collapsed. Its first line says what is wrong: ``// WRONG: …``. The harness runs it in
    place of the solution and requires every check to fail at run time."""
    meta = _meta(["wrong"], "skip")
    meta["jupyter"] = {"source_hidden": True}
    return nbformat.v4.new_raw_cell(source.strip("\n"), metadata=meta)


def write_notebook(path, cells, minutes: int | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    if minutes is not None:
        nb.metadata["course"] = {"minutes": minutes}
    nb.metadata["celltoolbar"] = "Slideshow"
    nbformat.validate(nb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
