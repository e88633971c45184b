"""Where each too-tall slide spends its height, cell by cell — and, with ``--repack``, sub-slide breaks that fit.

    .venv/bin/python tools/export/slide_report.py [--executed DIR] [--limit 0.92] [--repack] [--write-exempt] [NOTEBOOK ...]

Builds every deck as ``make slides`` does, from the notebooks in notebooks/ with the outputs of an executed copy
(DIR, default build/executed; matched by cell id, so a notebook whose slide metadata changed since its run is still
measured with its outputs), opens each in Chromium at 1280×720 (tools/export/slide_cells.mjs) and prints every
slide taller than LIMIT × the slide height with each of its cells' heights (input / output).

``--repack`` then starts a sub-slide (``slideshow.slide_type = "subslide"``) at the first cell that would cross
LIMIT, slide by slide, and writes the notebooks: a markdown cell that introduces the code below it moves with that
code. It never splits a cell: a single cell taller than the slide is reported, to be split or shortened by hand
(a long harness into support, a chart cell tagged ``slides-hide-input``). Run it again until it changes nothing;
the browser test (`make browser-test`) is the judge, with the outputs of a fresh run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import export  # noqa: E402

ROOT = export.ROOT


def with_outputs(nb, executed: Path | None):
    """The notebook with each code cell's outputs taken from the executed copy (by cell id)."""
    if executed is None or not executed.is_file():
        return nb, False
    done = {c.get("id"): c for c in nbformat.read(executed, as_version=4).cells}
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("id") in done:
            cell.outputs = done[cell.get("id")].get("outputs", [])
    return nb, True


def measure(names: list[str], executed: Path, work: Path) -> dict:
    export.vendor(work)
    ex = export.slides_exporter()
    decks = []
    for name in names:
        nb, _ = with_outputs(nbformat.read(export.NOTEBOOKS / name, as_version=4), executed / name)
        page = export.export_slides(nb, name, work, ex)
        decks.append({"stem": Path(name).stem, "page": page.as_uri()})
    cfg = {"chromium": "/usr/bin/chromium", "decks": decks, "out": str(work / "cells.json")}
    (work / "config.json").write_text(json.dumps(cfg))
    subprocess.run(["node", str(HERE / "slide_cells.mjs"), str(work / "config.json")], cwd=HERE, check=True)
    return json.loads((work / "cells.json").read_text())


def breaks_for(slide: dict, kinds: dict, limit: float) -> tuple[list[str], list[str]]:
    """Cell ids to start sub-slides at, and the cells that alone are taller than the limit."""
    budget = limit * slide["height"]
    cells = slide["cells"]
    breaks, alone = [], []
    start = 0  # index of the first cell of the current (sub-)slide
    for i, c in enumerate(cells):
        if c["height"] > budget:
            alone.append(c["id"])
        if i == start:
            continue
        if c["top"] + c["height"] - cells[start]["top"] > budget:
            at = i
            # A markdown cell right before a code cell introduces it: keep the two together.
            if kinds.get(c["id"]) == "code" and kinds.get(cells[i - 1]["id"]) == "markdown" and i - 1 > start:
                at = i - 1
            breaks.append(cells[at]["id"])
            start = at
    return breaks, alone


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--executed", default=str(export.BUILD / "executed"))
    ap.add_argument("--limit", type=float, default=0.92, help="fraction of the slide height a slide may fill")
    ap.add_argument("--repack", action="store_true")
    ap.add_argument("--json", help="also write the measurements here")
    ap.add_argument("--write-exempt", action="store_true",
                    help="write tools/export/slide_fit_exempt.json: the slides still taller than the slide (as the browser test counts them)")
    ap.add_argument("notebooks", nargs="*")
    ns = ap.parse_args(argv)
    names = export.notebook_names(ns.notebooks)
    with tempfile.TemporaryDirectory(prefix="slide-report-") as tmp:
        result = measure(names, Path(ns.executed), Path(tmp))
    if ns.json:
        Path(ns.json).write_text(json.dumps(result, indent=1) + "\n")
    total = over = changed = 0
    too_tall_cells = []
    for name in names:
        stem = Path(name).stem
        path = export.NOTEBOOKS / name
        nb = nbformat.read(path, as_version=4)
        kinds = {c.get("id"): c.cell_type for c in nb.cells}
        by_id = {c.get("id"): c for c in nb.cells}
        marks = []
        for s in result.get(stem, []):
            total += 1
            if s["ratio"] <= ns.limit:
                continue
            over += 1
            print(f"{stem} {s['h']}/{s['v']} {s['ratio']:.2f}× \"{s['title']}\"")
            for c in s["cells"]:
                print(f"    {c['id']} {kinds.get(c['id'], '?'):8} {c['height']:6.0f}  (in {c['input']:4.0f}, out {c['output']:4.0f})")
            br, alone = breaks_for(s, kinds, ns.limit)
            too_tall_cells += [(stem, i) for i in alone]
            marks += br
        if ns.repack and marks:
            for cid in marks:
                if cid not in by_id:  # a cell the deck adds (a "continued" title, an output on its own sub-slide)
                    continue
                by_id[cid].metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
            nbformat.write(nb, path)
            changed += len(marks)
            print(f"  -> {name}: {len(marks)} sub-slide breaks: {', '.join(marks)}")
    if ns.write_exempt:
        exempt = {}
        for stem, slides in result.items():
            for sl in slides:
                if sl["ratio"] > 1.005 and sl["cells"]:
                    exempt.setdefault(stem, {})[sl["cells"][0]["id"]] = f"{sl['title']} — {sl['ratio']:.2f}× the slide height"
        target = HERE / "slide_fit_exempt.json"
        target.write_text(json.dumps(exempt, indent=1, ensure_ascii=False) + "\n")
        print(f"{target.relative_to(ROOT)}: {sum(map(len, exempt.values()))} slides listed")
    print(f"{over} of {total} slides over {ns.limit:.0%} of the slide height; {len(too_tall_cells)} cells taller than that alone"
          + (f"; {changed} sub-slide breaks written" if ns.repack else ""))
    for stem, cid in too_tall_cells:
        print(f"  alone too tall: {stem} {cid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
