"""Export the course: HTML pages with outputs, reveal.js slides and learner copies, all working without internet.

    python tools/export/export.py html      [--force | --no-run] [NOTEBOOK ...]   -> build/html/
    python tools/export/export.py slides    [--force | --no-run] [NOTEBOOK ...]   -> build/slides/
    python tools/export/export.py exercises [NOTEBOOK ...]                        -> build/exercises/

Run with the .venv's Python from the repository root (`make html`, `make slides`, `make exercises` do). Notebooks
are named by their file in notebooks/ (default: all of them).

``html`` and ``slides`` show the outputs of an *executed* copy (build/executed/NN_topic.ipynb). Before exporting,
the notebooks whose executed copy is stale are run with the course's harness, one at a time (``--jobs 1``: two
kernels at once on 2 cores would distort the timing charts) and without the mutation check (that is `make test`'s
business). An executed copy is reused when it is newer than its notebook and than support/ (the crate the
notebooks load), and was written by such a serial run (recorded in build/executed/.serial-runs.json — a copy
written by `make test`, which runs two notebooks at once, is run again). ``--force`` runs them all again;
``--no-run`` exports whatever executed copies there are (``slides`` then falls back to the committed notebook,
code without outputs, where there is none).

``html`` uses nbconvert's HTML exporter with the ``lab`` template: code, outputs and the SVG charts inline, one
``NN_topic.html`` per notebook and an ``index.html`` linking them.

``slides`` uses nbconvert's slides exporter: each cell's ``slideshow.slide_type`` decides slide / subslide /
fragment / skip (left out), and ``notes`` cells become reveal.js speaker notes (press ``s`` in the deck). A
``solution`` cell that has no slide type of its own starts a sub-slide, below its exercise, so that the exercise
slide does not give the answer away. A code cell tagged ``slides-hide-input`` shows only its outputs on the slide
(a chart without the code that assembles it); the HTML pages show its code. reveal.js, require.js and jQuery come
from tools/export/node_modules (pinned in package.json, installed by `make setup-export` with ``npm ci``) and are
copied to ``build/slides/vendor/``; the decks load them from there, so they open from the file system with no
network.

Both templates (templates/) are nbconvert's own without the blocks that load MathJax and Mermaid from a CDN (the
notebooks use neither). Every page written is checked: a ``src`` or ``<link href>`` (or CSS ``url()``/``@import``)
that points off the machine fails the export. Links between notebooks (``02_basic_threading.ipynb``) are rewritten
to the exported pages.

Cells tagged ``wrong`` (plausible wrong answers, raw cells that only the harness runs against the checks) appear in
none of the three: not in the pages, not in the decks, not in the learner copies.

``exercises`` writes learner copies: the cells tagged ``solution`` are removed, and with each the "Stuck?" note
just before it (a markdown cell starting with ``**Stuck?**``, which points at the solution), the exercise stubs
(tag ``exercise``) and the checks (tag ``check``) stay, outputs are cleared. build/exercises/ is self-contained: the
notebooks in notebooks/ (with the other files of notebooks/, e.g. the Python scripts lessons run), beside them a
copy of the support crate and the workspace's Cargo.toml and Cargo.lock (so
that the notebooks' ``:dep support = { path = "../support" }`` resolves), and a README for the learner.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SUPPORT = ROOT / "support"
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
NODE_MODULES = HERE / "node_modules"
BUILD = ROOT / "build"
SERIAL_RECORD = ".serial-runs.json"
COURSE_TITLE = "Threads in Rust, for Python programmers"

# What is copied from node_modules into OUT/vendor for the slides (source, destination).
VENDOR = [
    ("reveal.js/dist", "reveal.js/dist"),
    ("reveal.js/plugin", "reveal.js/plugin"),
    ("reveal.js/LICENSE", "reveal.js/LICENSE"),
    ("requirejs/require.js", "require.js"),
    ("jquery/dist/jquery.min.js", "jquery.min.js"),
]

LINK_RE = re.compile(r"\]\((\d\d[a-z]?_[A-Za-z0-9_]+)\.ipynb(#[^)]*)?\)")
# Attributes and CSS that make a browser fetch something by itself (an <a href> is a link a person may follow).
# The scheme is optional: "//host/x" is protocol-relative.
_OFF = r"""\s*["']?\s*(?:https?:)?//"""
OFF_MACHINE_RES = [
    re.compile(r"<(?:script|img|iframe|audio|video|source|embed|track|input|object)\b[^>]*?\s(?:src|data|poster)\s*=" + _OFF, re.I),
    re.compile(r"<link\b[^>]*?\shref\s*=" + _OFF, re.I),
    re.compile(r"\bsrcset\s*=" + _OFF, re.I),
    re.compile(r"url\(" + _OFF, re.I),
    re.compile(r"@import\s+" + _OFF, re.I),
    re.compile(r"""\b(?:import|from)\s*\(?\s*["'](?:https?:)?//""", re.I),  # ES modules: import x from "https://…"
]


class ExportError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def notebook_names(args: list[str], notebooks: Path = NOTEBOOKS) -> list[str]:
    if args:
        names = [Path(a).name for a in args]
        missing = [n for n in names if not (notebooks / n).is_file()]
        if missing:
            raise ExportError(f"no such notebook in {notebooks}: {', '.join(missing)}")
        return names
    return sorted(p.name for p in notebooks.glob("*.ipynb"))


def tags_of(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def without_wrong_answers(nb):
    """The notebook without its ``wrong`` cells (the harness's wrong answers are for the course's authors)."""
    nb.cells = [c for c in nb.cells if "wrong" not in tags_of(c)]
    return nb


def is_stuck_note(cell) -> bool:
    """The note before a solution that tells the learner where the solution is (CONTRIBUTING.md, lesson shape)."""
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("**Stuck?**")


def rewrite_links(nb, suffix: str):
    """Links to sibling notebooks point at their exported pages."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = LINK_RE.sub(lambda m: f"]({m.group(1)}{suffix}{m.group(2) or ''})", cell.source)


def off_machine_urls(page: str) -> list[str]:
    """What in an HTML page would make a browser fetch something from another machine (empty when nothing)."""
    found = []
    for rx in OFF_MACHINE_RES:
        for m in rx.finditer(page):
            snippet = page[m.start() : m.end() + 60]
            found.append(re.sub(r"\s+", " ", snippet)[:160])
    return found


def write_page(target: Path, body: str):
    bad = off_machine_urls(body)
    if bad:
        raise ExportError(f"{target.name} would load from another machine: " + " | ".join(bad[:5]))
    target.write_text(body, encoding="utf-8")


def chart_count(body: str) -> int:
    return body.count('src="data:image/svg+xml') + body.count('src="data:image/png')


def course_table(suffix: str, notebooks: Path = NOTEBOOKS) -> str:
    """The course map of 00_index.ipynb (its cell tagged ``toc``: number, lesson, Python topic, minutes) as HTML,
    its links pointing at the exported pages (``suffix``: ".html" or ".slides.html"); "" without an index."""
    index = notebooks / "00_index.ipynb"
    if not index.is_file():
        return ""
    toc = next((c for c in nbformat.read(index, as_version=4).cells if "toc" in tags_of(c)), None)
    if toc is None:
        return ""
    from nbconvert.filters import markdown2html

    return markdown2html(LINK_RE.sub(lambda m: f"]({m.group(1)}{suffix}{m.group(2) or ''})", toc.source))


def write_index(out: Path, title: str, entries: list[tuple[str, str, str]], note: str, table: str = ""):
    """index.html: the course map (``table``, from :func:`course_table`) when there is one, then every page."""
    rows = "\n".join(
        f'<li><a href="{html.escape(href)}">{html.escape(label)}</a> <small>{html.escape(name)}</small></li>'
        for href, label, name in entries
    )
    write_page(
        out / "index.html",
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
small{{color:#666}} table{{border-collapse:collapse}} td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{html.escape(note)}</p>
{table}
<h2>Every page</h2>
<ol>
{rows}
</ol></body></html>
""",
    )


# ---------------------------------------------------------------------------------------------------------------
# Executed copies: which are fresh, and running the stale ones with the harness


def _newest_mtime(paths) -> int:
    newest = 0
    for p in paths:
        if p.is_dir():
            for f in p.rglob("*"):
                if f.is_file() and "target" not in f.relative_to(p).parts:
                    newest = max(newest, f.stat().st_mtime_ns)
        elif p.is_file():
            newest = max(newest, p.stat().st_mtime_ns)
    return newest


def _record(executed: Path) -> dict:
    try:
        return json.loads((executed / SERIAL_RECORD).read_text())
    except (OSError, ValueError):
        return {}


def _signature(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def is_fresh(name: str, executed: Path, notebooks: Path = NOTEBOOKS) -> bool:
    """The executed copy is newer than its notebook and support/, and was written by a serial run."""
    copy = executed / name
    if not copy.is_file():
        return False
    inputs = _newest_mtime([notebooks / name, SUPPORT / "src", SUPPORT / "Cargo.toml", ROOT / "Cargo.lock"])
    if copy.stat().st_mtime_ns < inputs:
        return False
    return _record(executed).get(name) == _signature(copy)


def run_harness(names: list[str], executed: Path, cell_timeout: float, notebooks: Path = NOTEBOOKS) -> dict[str, bool]:
    """Runs the notebooks with the course's harness, one at a time, and records the copies of those that passed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tools"), env.get("PYTHONPATH")]))
    env.setdefault("JUPYTER_PATH", str(ROOT / ".venv" / "share" / "jupyter"))
    cmd = [sys.executable, "-m", "nbtools", "run", "--jobs", "1", "--no-mutation", "--cell-timeout", str(cell_timeout),
           "--executed-dir", str(executed), *[str(notebooks / n) for n in names]]
    print(f"export: running {len(names)} notebook(s) with the harness, one at a time: {' '.join(names)}", flush=True)
    results: dict[str, bool] = {}
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            m = re.match(r"(PASS|FAIL) (\S+\.ipynb):", line)
            if m:
                results[m.group(2)] = m.group(1) == "PASS"
    record = _record(executed)
    for name, passed in results.items():
        if passed and (executed / name).is_file():
            record[name] = _signature(executed / name)
        else:
            record.pop(name, None)
    executed.mkdir(parents=True, exist_ok=True)
    (executed / SERIAL_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    for name in names:
        results.setdefault(name, False)
    return results


def prepare_executed(ns, names: list[str]) -> list[str]:
    """Runs what is stale (unless --no-run). Returns the notebooks whose run failed."""
    executed = Path(ns.executed)
    if ns.no_run:
        return []
    stale = names if ns.force else [n for n in names if not is_fresh(n, executed)]
    if not stale:
        print(f"export: reusing the executed copies in {executed} (newer than the notebooks and support/, "
              "from a serial run; --force or FORCE=1 runs them again)")
        return []
    results = run_harness(stale, executed, ns.cell_timeout)
    return [n for n in stale if not results[n]]


# ---------------------------------------------------------------------------------------------------------------
# html


def html_exporter():
    from nbconvert import HTMLExporter

    ex = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATES)])
    ex.template_file = "course_lab.html.j2"
    return ex


def export_html(nb, name: str, out: Path, ex=None) -> Path:
    nb = without_wrong_answers(nbformat.from_dict(nb))  # a copy
    rewrite_links(nb, ".html")
    for cell in nb.cells:  # the teacher's notes get the class celltag_notes (styled in the template)
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes":
            cell.metadata["tags"] = [*tags_of(cell), "notes"]
    body, _ = (ex or html_exporter()).from_notebook_node(nb, resources={"metadata": {"name": title_of(nb) or Path(name).stem}})
    target = out / (Path(name).stem + ".html")
    write_page(target, body)
    return target


def cmd_html(ns) -> int:
    names = notebook_names(ns.notebooks)
    failed_runs = prepare_executed(ns, names)
    executed, out = Path(ns.executed), Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    ex = html_exporter()
    entries, missing = [], []
    for name in names:
        src = executed / name
        if not src.is_file():
            missing.append(name)
            continue
        nb = nbformat.read(src, as_version=4)
        target = export_html(nb, name, out, ex)
        print(f"html: {target.name} ({chart_count(target.read_text(encoding='utf-8'))} charts)")
        entries.append((target.name, title_of(nb) or src.stem, name))
    if not ns.notebooks:
        write_index(out, f"{COURSE_TITLE} — lessons with outputs", entries, table=course_table(".html"), note=
                    "Each lesson as run by the course's harness, with its outputs and charts.")
    print(f"html: {len(entries)} pages{' and index.html' if not ns.notebooks else ''} in {out}")
    if missing:
        print(f"html: no executed copy in {executed} of: {', '.join(missing)} (`make html` runs them)", file=sys.stderr)
    if failed_runs:
        print(f"html: these notebooks failed in the harness (their pages show the failure): {', '.join(failed_runs)}",
              file=sys.stderr)
    return 1 if missing or failed_runs else 0


# ---------------------------------------------------------------------------------------------------------------
# slides


def slides_exporter():
    from nbconvert import SlidesExporter

    ex = SlidesExporter(
        extra_template_paths=[str(TEMPLATES)],
        reveal_url_prefix="vendor/reveal.js",
        reveal_theme="white",
        reveal_scroll=True,
        reveal_number="c/t",
        # Wider than reveal.js's 960×700: the lessons' code lines are up to ~115 characters.
        reveal_width="1280",
        reveal_height="800",
        # No In [n]: / Out[n]: prompts on slides: room for the code.
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        jquery_url="vendor/jquery.min.js",
        require_js_url="vendor/require.js",
    )
    ex.template_file = "course_reveal.html.j2"
    return ex


HIDE_INPUT_ON_SLIDES = "slides-hide-input"
OUTPUT_ON_OWN_SLIDE = "slides-split-output"


def _heading_of(cell) -> str:
    """The text of a markdown cell's first heading line ("## Title" -> "Title"), or ""."""
    if cell.cell_type != "markdown":
        return ""
    for line in cell.source.splitlines():
        if re.match(r"#{1,4} ", line):
            return line.lstrip("#").strip()
    return ""


SLIDE_OUTPUT_LINES = 24  # a compiler error or a printout longer than this is cut on the slides (not in the pages)


def shorten_outputs(outputs, keep: int = SLIDE_OUTPUT_LINES) -> list:
    """A cell's outputs for a slide: compiler errors and printouts of more than ``keep`` lines in all are cut after
    that many lines, with a line saying how many more the notebook shows. rustc prints the point first (the error and
    the line it is about); the rest — more spans, notes, the same error again — is for reading, not presenting.
    Charts and other rich outputs are kept whole."""
    result, left, dropped = [], keep, 0
    for out in outputs:
        out = nbformat.from_dict(dict(out))
        kind = out.get("output_type")
        if kind not in ("error", "stream"):
            result.append(out)
            continue
        lines = ("\n".join(out.get("traceback", [])) if kind == "error" else out.get("text", "").rstrip("\n")).split("\n")
        if left <= 0:
            dropped += len(lines)
            continue
        if len(lines) > left:
            dropped += len(lines) - left
            lines = lines[:left]
        left -= len(lines)
        if kind == "error":
            out["traceback"] = lines
        else:
            out["text"] = "\n".join(lines) + "\n"
        result.append(out)
    if dropped:
        result.append(nbformat.v4.new_output("stream", name="stdout",
                                             text=f"\u2026 {dropped} more lines: run the cell, or see the notebook\n"))
    return result


def prepare_slides(nb):
    """A copy for the deck: no wrong answers; links to the other decks; a solution cell without its own slide type
    opens a sub-slide; a cell tagged ``slides-hide-input`` shows its outputs without its code (the chart, not the
    plumbing that draws it — the HTML pages and JupyterLab still show the code); a cell tagged
    ``slides-split-output`` shows its code on one sub-slide and its outputs on the next (a long compiler error, a
    long printout); a sub-slide that does not open with a heading gets the slide's title, marked "continued", so
    that a teacher and a learner always see which idea they are in."""
    nb = without_wrong_answers(nbformat.from_dict(nb))
    rewrite_links(nb, ".slides.html")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = shorten_outputs(cell.get("outputs", []))
    cells = []
    for cell in nb.cells:
        show = cell.metadata.setdefault("slideshow", {})
        if "solution" in tags_of(cell) and show.get("slide_type", "-") in ("-", ""):
            show["slide_type"] = "subslide"
        if cell.cell_type == "code" and HIDE_INPUT_ON_SLIDES in tags_of(cell):
            # What nbconvert's TagRemovePreprocessor(remove_input_tags=…) does: the template skips the input.
            cell.metadata["transient"] = {"remove_source": True}
        if cell.cell_type == "code" and OUTPUT_ON_OWN_SLIDE in tags_of(cell) and cell.get("outputs"):
            out = nbformat.from_dict(dict(cell))
            out["id"] = f"{cell.get('id', 'cell')}-out"[:64]
            out.metadata = nbformat.from_dict({"slideshow": {"slide_type": "subslide"}, "transient": {"remove_source": True},
                                               "tags": tags_of(cell)})
            cell.outputs = []
            cells += [cell, out]
            continue
        cells.append(cell)
    # Sub-slides without a heading of their own get "<title> (continued)".
    title, result = "", []
    for cell in cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-") or "-"
        heading = _heading_of(cell)
        if kind == "slide":
            title = heading or title
        elif kind == "subslide" and not heading and title:
            shown = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(title))
            result.append(nbformat.v4.new_markdown_cell(
                f'<p class="continued">{shown} (continued)</p>',
                metadata={"slideshow": {"slide_type": "subslide"}}, id=f"{cell.get('id', 'cell')}-cont"[:64]))
            cell.metadata["slideshow"]["slide_type"] = "-"
        elif kind == "subslide" and heading:
            title = heading
        result.append(cell)
    nb.cells = result
    return nb


def vendor(out: Path):
    if not (NODE_MODULES / "reveal.js" / "dist" / "reveal.js").is_file():
        raise ExportError(f"reveal.js is missing in {NODE_MODULES} — run `make setup-export` (npm ci in tools/export)")
    dest = out / "vendor"
    for src, dst in VENDOR:
        s, d = NODE_MODULES / src, dest / dst
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)
    versions = {p: json.loads((NODE_MODULES / p / "package.json").read_text())["version"] for p in ("reveal.js", "requirejs", "jquery")}
    (dest / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n")


def export_slides(nb, name: str, out: Path, ex=None) -> Path:
    nb = prepare_slides(nb)
    body, _ = (ex or slides_exporter()).from_notebook_node(nb, resources={"metadata": {"name": title_of(nb) or Path(name).stem}})
    target = out / (Path(name).stem + ".slides.html")
    write_page(target, body)
    return target


def cmd_slides(ns) -> int:
    names = notebook_names(ns.notebooks)
    failed_runs = prepare_executed(ns, names)
    executed, out = Path(ns.executed), Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    vendor(out)
    ex = slides_exporter()
    entries = []
    for name in names:
        src = executed / name
        kind = "with outputs"
        if not src.is_file() or src.stat().st_mtime_ns < (NOTEBOOKS / name).stat().st_mtime_ns:
            src, kind = NOTEBOOKS / name, "code only (no executed copy newer than the notebook)"
        nb = nbformat.read(src, as_version=4)
        target = export_slides(nb, name, out, ex)
        body = target.read_text(encoding="utf-8")
        notes = body.count('<aside class="notes">')
        print(f"slides: {target.name}: {kind}, {notes} speaker notes, {chart_count(body)} charts")
        entries.append((target.name, title_of(nb) or src.stem, name))
    if not ns.notebooks:
        write_index(out, f"{COURSE_TITLE} — slides", entries, table=course_table(".slides.html"), note=
                    "reveal.js decks, one per lesson: arrow keys move, s opens the speaker notes, Esc shows the overview.")
    print(f"slides: {len(entries)} decks{' and index.html' if not ns.notebooks else ''} in {out}")
    if failed_runs:
        print(f"slides: these notebooks failed in the harness: {', '.join(failed_runs)}", file=sys.stderr)
    return 1 if failed_runs else 0


# ---------------------------------------------------------------------------------------------------------------
# exercises

LEARNER_README = """# {title} — exercises

The course's lessons without the reference solutions. Each lesson ends with an exercise: a stub cell to complete
and, below it, a check cell whose asserts fail until the stub is done right. Run the stub cell after each edit,
then the check: it judges the code you wrote (Run All does the same, top to bottom).

You need Rust (https://rustup.rs), Python with JupyterLab, and the evcxr Rust kernel:

    cargo install --locked evcxr_jupyter && evcxr_jupyter --install
    jupyter lab notebooks/00_index.ipynb

The notebooks load the course's helper crate from ../support (`:dep support = {{ path = "../support" }}`): keep
this folder's layout as it is.
"""


def learner_copy(nb, name: str = "notebook"):
    """The notebook without its solution cells (and the "Stuck?" note before each), wrong answers and outputs.
    Raises ExportError when it would leave the learner a check with nothing to edit."""
    nb = nbformat.from_dict(nb)
    wrongs = sum(1 for c in nb.cells if "wrong" in tags_of(c))
    without_wrong_answers(nb)
    solution_at = {i for i, c in enumerate(nb.cells) if "solution" in tags_of(c)}
    cells = [c for i, c in enumerate(nb.cells)
             if i not in solution_at and not (i + 1 in solution_at and is_stuck_note(c))]
    dropped = len(solution_at)
    notes = len(nb.cells) - len(cells) - dropped
    stubs = [c for c in cells if "exercise" in tags_of(c)]
    checks = [c for c in cells if "check" in tags_of(c)]
    if (dropped or checks) and not stubs:
        raise ExportError(f"{name}: has solution or check cells but no exercise stub (tag exercise) for the learner")
    for c in cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nb.cells = cells
    return nb, {"solutions": dropped, "stuck_notes": notes, "wrongs": wrongs, "exercises": len(stubs), "checks": len(checks)}


def cmd_exercises(ns) -> int:
    names = notebook_names(ns.notebooks)
    out = Path(ns.out)
    nb_out = out / "notebooks"
    if not ns.notebooks and nb_out.is_dir():
        shutil.rmtree(nb_out)  # no stale copies of renamed notebooks
    nb_out.mkdir(parents=True, exist_ok=True)
    totals = {"solutions": 0, "stuck_notes": 0, "wrongs": 0, "exercises": 0, "checks": 0}
    for name in names:
        nb, info = learner_copy(nbformat.read(NOTEBOOKS / name, as_version=4), name)
        nbformat.write(nb, nb_out / name)
        for k in totals:
            totals[k] += info[k]
        if info["solutions"] or info["checks"]:
            print(f"exercises: {name}: {info['solutions']} solution cells, {info['stuck_notes']} 'Stuck?' notes and "
                  f"{info['wrongs']} wrong answers removed, {info['exercises']} exercise stubs and {info['checks']} checks kept")
    # What the notebooks use beside them (python/ scripts the lessons run, …), then what they load: support/ and the
    # workspace around it.
    shutil.copytree(NOTEBOOKS, nb_out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
    shutil.copytree(SUPPORT, out / "support", dirs_exist_ok=True, ignore=shutil.ignore_patterns("target"))
    for f in ("Cargo.toml", "Cargo.lock"):
        shutil.copy2(ROOT / f, out / f)
    (out / "README.md").write_text(LEARNER_README.format(title=COURSE_TITLE))
    print(f"exercises: {len(names)} learner notebooks in {nb_out} ({totals['solutions']} solution cells and "
          f"{totals['wrongs']} wrong answers removed, "
          f"{totals['exercises']} stubs, {totals['checks']} checks), with support/ beside them")
    return 0


# ---------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="export", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, func in (("html", cmd_html), ("slides", cmd_slides), ("exercises", cmd_exercises)):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="*", help="notebooks in notebooks/ (default: all)")
        p.add_argument("--out", default=str(BUILD / name))
        if name != "exercises":
            p.add_argument("--executed", default=str(BUILD / "executed"))
            p.add_argument("--cell-timeout", type=float, default=180)
            when = p.add_mutually_exclusive_group()
            when.add_argument("--force", action="store_true", help="run every notebook again before exporting")
            when.add_argument("--no-run", action="store_true", help="export the executed copies there are")
        p.set_defaults(func=func)
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except ExportError as error:
        print(f"export: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
