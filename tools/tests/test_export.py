"""The exports (tools/export/export.py): HTML and slides that load nothing from another machine, slide metadata
and speaker notes honoured, learner copies without solutions whose checks still fail at run time; wrong answers in
none of them."""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from nbtools.author import code, md, notes, wrong, write_notebook
from nbtools.runner import run_notebook

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("course_export", ROOT / "tools" / "export" / "export.py")
export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export)

# A tiny chart, as evcxr shows a plotters figure (image/svg+xml).
SVG = '<svg width="120" height="60" xmlns="http://www.w3.org/2000/svg"><rect width="120" height="60" fill="#0072B2"/></svg>'
# The src / <link href> attributes in a page, by what they point at.
ATTR_RE = re.compile(r"""<(?:script|img|iframe|link|source)\b[^>]*?\s(?:src|href)\s*=\s*["']([^"']{0,200})""", re.I)


def lesson(tmp_path: Path, name="01_demo.ipynb") -> Path:
    cells = [
        md("# 01 · Demo\n\nWhat you will learn."),
        md("[Course index](00_index.ipynb) · [Next →](02_next.ipynb)", tags=["nav"], slide="-"),
        md("## A chart"),
        code("chart()"),
        notes("Teacher: point at the ideal line."),
        md("This cell is for the notebook only.", slide="skip"),
        md("## More", slide="subslide"),
        md("A fragment.", slide="fragment"),
        md("## Exercise: add"),
        code("fn add(a: u32, b: u32) -> u32 { 0 }", tags=["exercise"]),
        code("assert_eq!(add(2, 3), 5);", tags=["check"]),
        md("**Stuck?** The solution is in the collapsed cell below.", slide="skip"),
        code("fn add(a: u32, b: u32) -> u32 { a + b }", tags=["solution"]),
        wrong("// WRONG: subtracts\nfn add(a: u32, b: u32) -> u32 { a.wrapping_sub(b) } // WRONG_ANSWER_ONE"),
        wrong("// WRONG: multiplies\nfn add(a: u32, b: u32) -> u32 { a * b } // WRONG_ANSWER_TWO"),
    ]
    path = write_notebook(tmp_path / name, cells)
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("execute_result", data={"image/svg+xml": SVG}, execution_count=1)]
    nb.cells[3].execution_count = 1
    return nb


def test_off_machine_urls_finds_loads_not_links():
    assert export.off_machine_urls('<script src="https://cdn.example/x.js"></script>')
    assert export.off_machine_urls("<link rel='stylesheet' href='//cdn.example/x.css'>")
    assert export.off_machine_urls('<img alt="x" src="http://example.org/a.png">')
    assert export.off_machine_urls("<style>body{background:url(https://example.org/bg.png)}</style>")
    assert export.off_machine_urls('<style>@import "https://example.org/x.css";</style>')
    assert export.off_machine_urls('<script type="module">import m from "https://cdn.example/m.mjs";</script>')
    assert not export.off_machine_urls('<a href="https://doc.rust-lang.org/std/thread/">std::thread</a>')
    assert not export.off_machine_urls('<script src="vendor/require.js"></script><img src="data:image/svg+xml;base64,AA">')
    assert not export.off_machine_urls('<svg xmlns="http://www.w3.org/2000/svg"></svg>')


def test_html_page_is_offline_with_chart_links_and_notes(tmp_path):
    nb = lesson(tmp_path)
    page = export.export_html(nb, "01_demo.ipynb", tmp_path).read_text()
    urls = ATTR_RE.findall(page)
    assert not [u for u in urls if re.match(r"\s*(https?:)?//", u)], urls
    assert not export.off_machine_urls(page)
    assert "cdn" not in page.lower() and "mathjax" not in page.lower().replace("mathjax_", "")
    assert export.chart_count(page) == 1
    assert 'href="00_index.html"' in page and 'href="02_next.html"' in page and ".ipynb" not in page.split("<body")[1]
    assert "celltag_notes" in page  # the teacher's note is set apart
    assert "WRONG_ANSWER" not in page and "subtracts" not in page  # wrong answers are for the harness only
    assert "Stuck?" in page and "celltag_solution" in page  # the solution and its note stay in the pages


def test_slides_follow_metadata_and_load_reveal_locally(tmp_path):
    if not (export.NODE_MODULES / "reveal.js" / "dist" / "reveal.js").is_file():
        pytest.fail("tools/export/node_modules is missing: run `make setup-export`")
    nb = lesson(tmp_path)
    export.vendor(tmp_path)
    page = export.export_slides(nb, "01_demo.ipynb", tmp_path).read_text()
    # reveal.js, require.js and jQuery from the vendored copy, nothing from a CDN.
    urls = ATTR_RE.findall(page)
    assert not [u for u in urls if re.match(r"\s*(https?:)?//", u)], urls
    assert "vendor/reveal.js/dist/reveal.js" in page and 'src="vendor/require.js"' in page
    for rel in ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.css", "reveal.js/plugin/notes/notes.js", "require.js", "jquery.min.js"):
        assert (tmp_path / "vendor" / rel).is_file(), rel
    assert "MathJax" not in page  # its block is gone, and so is the footer's call to it
    # notes cells become speaker notes; skip cells vanish; fragments stay fragments.
    assert page.count('<aside class="notes">') == 1 and "point at the ideal line" in page
    assert "for the notebook only" not in page
    assert 'class="fragment"' in page
    # slides: title, chart, exercise; sub-slides: "More" and the solution (below its exercise).
    assert page.count("<section") - page.count("</section") == 0
    assert export.chart_count(page) == 1
    assert 'href="02_next.slides.html"' in page
    deck = nbformat.from_dict(export.prepare_slides(nb))
    at = next(i for i, c in enumerate(deck.cells) if "solution" in c.metadata.get("tags", []))
    # The solution's sub-slide opens with the exercise slide's title, "continued" (the solution has no heading).
    cont = deck.cells[at - 1]
    assert cont.metadata.slideshow.slide_type == "subslide" and 'class="continued"' in cont.source
    assert "(continued)" in cont.source and deck.cells[at].metadata.slideshow.slide_type == "-"
    assert not [c for c in deck.cells if "wrong" in c.metadata.get("tags", [])]
    assert "WRONG_ANSWER" not in page and "subtracts" not in page
    # Even a wrong answer someone forgot to mark skip stays out of the deck.
    nb.cells[13].metadata.slideshow.slide_type = "-"
    assert "WRONG_ANSWER" not in export.export_slides(nb, "01_demo.ipynb", tmp_path).read_text()


def test_learner_copy_drops_solutions_stuck_notes_and_wrong_answers_keeps_stub_and_check(tmp_path):
    nb = lesson(tmp_path)
    copy, info = export.learner_copy(nb, "01_demo.ipynb")
    tags = [c.metadata.get("tags", []) for c in copy.cells]
    assert info == {"solutions": 1, "stuck_notes": 1, "wrongs": 2, "exercises": 1, "checks": 1}
    assert ["solution"] not in tags and ["wrong"] not in tags and ["exercise"] in tags and ["check"] in tags
    assert not [c for c in copy.cells if "Stuck?" in c.source or "WRONG" in c.source]
    assert len(copy.cells) == len(nb.cells) - 4
    assert copy.cells[-1].metadata.tags == ["check"]  # the lesson ends with the learner's check
    assert all(c.outputs == [] and c.execution_count is None for c in copy.cells if c.cell_type == "code")
    assert len(nb.cells) == 15  # the original is untouched


def test_learner_copy_without_stub_is_an_error(tmp_path):
    nb = lesson(tmp_path)
    nb.cells = [c for c in nb.cells if "exercise" not in c.metadata.get("tags", [])]
    with pytest.raises(export.ExportError, match="no exercise stub"):
        export.learner_copy(nb, "01_demo.ipynb")


def test_learner_copy_runs_and_its_check_fails_at_run_time(tmp_path):
    """As a learner who runs the copy without doing the exercise: the stub compiles, the check's assert fails."""
    nb = lesson(tmp_path)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown" or "chart()" not in c.source]
    copy, _ = export.learner_copy(nb, "t.ipynb")
    path = tmp_path / "learner.ipynb"
    nbformat.write(copy, path)
    r = run_notebook(path, cell_timeout=60, setup_timeout=120, mutation=False)
    check = [c for c in r.cells if "check" in c.tags][0]
    assert check.panicked, f"the check should fail at run time (an assert), not compile: {check.failure_summary()}"
    assert "assertion" in check.failure_summary() and "left: 0" in check.text()
    stub = [c for c in r.cells if "exercise" in c.tags][0]
    assert not stub.failed, stub.failure_summary()


def test_executed_copy_is_fresh_only_after_a_serial_run(tmp_path):
    notebooks, executed = tmp_path / "nb", tmp_path / "executed"
    notebooks.mkdir(), executed.mkdir()
    nbformat.write(lesson(tmp_path), notebooks / "01_demo.ipynb")
    time.sleep(0.01)
    nbformat.write(lesson(tmp_path), executed / "01_demo.ipynb")
    newest_support = export._newest_mtime([export.SUPPORT / "src", export.SUPPORT / "Cargo.toml", export.ROOT / "Cargo.lock"])
    if newest_support > (executed / "01_demo.ipynb").stat().st_mtime_ns:
        pytest.skip("support/ was edited during the test")
    assert not export.is_fresh("01_demo.ipynb", executed, notebooks)  # e.g. written by `make test`'s parallel run
    (executed / export.SERIAL_RECORD).write_text(f'{{"01_demo.ipynb": {export._signature(executed / "01_demo.ipynb")}}}')
    assert export.is_fresh("01_demo.ipynb", executed, notebooks)
    later = time.time() + 5
    os.utime(notebooks / "01_demo.ipynb", (later, later))  # the notebook was edited since
    assert not export.is_fresh("01_demo.ipynb", executed, notebooks)


def test_slides_hide_input_shows_the_chart_without_its_code(tmp_path):
    if not (export.NODE_MODULES / "reveal.js" / "dist" / "reveal.js").is_file():
        pytest.fail("tools/export/node_modules is missing: run `make setup-export`")
    nb = lesson(tmp_path)
    chart = nb.cells[3]
    chart.source = "let figure = assemble_the_chart_PLUMBING();\nfigure"
    chart.metadata["tags"] = ["slides-hide-input"]
    export.vendor(tmp_path)
    deck = export.export_slides(nb, "01_demo.ipynb", tmp_path).read_text()
    assert "PLUMBING" not in deck and export.chart_count(deck) == 1  # the output, not the code
    assert "assert_eq" in deck  # other code cells keep their code
    page = export.export_html(nb, "01_demo.ipynb", tmp_path).read_text()
    assert "PLUMBING" in page and export.chart_count(page) == 1  # the HTML page shows both
    assert "transient" not in nb.cells[3].metadata  # the notebook itself is untouched


def test_a_too_tall_slide_scrolls_inside_the_slide_box(tmp_path):
    # The box is the deck's width × height (slide units, scaled to the screen), as the browser test's fit check
    # measures it — not 95% of the window, which cut slides shorter than the box.
    deck = export.export_slides(lesson(tmp_path), "01_demo.ipynb", tmp_path).read_text()
    assert "var h = Reveal.getConfig().height;" in deck and "95vh" not in deck


def test_slides_split_long_outputs_off_and_cut_them():
    """slides-split-output puts the outputs on a sub-slide of their own; a long error or printout is cut on the slide."""
    code = nbformat.v4.new_code_cell("let x = 1;", id="c1", metadata={"tags": ["slides-split-output"]})
    code.outputs = [nbformat.v4.new_output("error", ename="Error", evalue="e", traceback=[f"line {i}" for i in range(40)]),
                    nbformat.v4.new_output("stream", name="stdout", text="more\n" * 5)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## A slide", id="m1", metadata={"slideshow": {"slide_type": "slide"}}), code])
    deck = export.prepare_slides(nb)
    ids = [c.get("id") for c in deck.cells]
    assert ids == ["m1", "c1", "c1-out-cont", "c1-out"], ids
    assert deck.cells[1].outputs == [] and deck.cells[3].metadata.transient == {"remove_source": True}
    out = deck.cells[3].outputs
    assert len(out[0].traceback) == export.SLIDE_OUTPUT_LINES and out[0].traceback[0] == "line 0"
    assert out[-1].text.startswith("\u2026 21 more lines")  # 16 of the error and the 5 printed lines
    assert len(nb.cells[1].outputs[0].traceback) == 40  # the notebook itself is untouched


def test_the_index_page_shows_the_course_map_with_links_to_the_pages(tmp_path):
    """The HTML index reads as a course: 00_index's table (lesson, Python topic, minutes), linked to the pages."""
    table = export.course_table(".html")
    assert "<table>" in table and "Python topic" in table and "Minutes" in table
    assert 'href="02_basic_threading.html"' in table and ".ipynb" not in table
    export.write_index(tmp_path, "T", [("a.html", "A", "a.ipynb")], "note", table=export.course_table(".slides.html"))
    page = (tmp_path / "index.html").read_text()
    assert 'href="02_basic_threading.slides.html"' in page and 'href="a.html"' in page
