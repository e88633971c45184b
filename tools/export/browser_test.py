"""End-to-end test in a real browser: JupyterLab, an exported HTML page and a slide deck, in Debian's Chromium.

    python tools/export/browser_test.py [--notebook 02_basic_threading.ipynb] [--out build/browser-test]

Run by `make browser-test` (and `make test`, after the notebooks ran). What it does:

1. copies notebooks/ into a temporary folder with a symlink to support/ beside it (the notebooks' ``:dep support
   = { path = "../support" }`` resolves; the repository's notebooks are not touched), and starts JupyterLab there
   the way ``make lab`` does: tools/lab.sh (LAB_ROOT=the copy, PORT=a free port), which writes the course's
   settings into .venv (tools/lab_config.py: no news, no update check — the same settings learners get) and
   starts JupyterLab on 127.0.0.1 with the index as its default URL. The test adds ``--no-browser`` and
   ``--LabApp.extension_manager=readonly`` (no PyPI queries) and gives it its own config, settings, workspace and
   runtime folders; the URL JupyterLab prints (with its generated token) is the one the browser opens first;
2. exports the executed copy of the notebook (build/executed/, written by ``make test``/``make run``/``make html``;
   the harness runs it first when there is none) to HTML and to a slide deck in OUT, and every lesson's deck to
   OUT/decks for the slide-fit check (build_fit_decks; its exemption list is slide_fit_exempt.json beside this file);
3. runs tools/export/browser_test.mjs (playwright-core, /usr/bin/chromium): see its header for the checks.

Screenshots land in OUT (lab-index.png, lab.png, rise.png, html.png, slide.png); with ``--docs DIR`` (``make screenshots``) lab.png and
slide.png are copied to DIR when every check passed. Ends with ``browser-test: N passed, N failed``; exit code 1 on
failure (the temporary folder and JupyterLab's log are then kept).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

import export  # tools/export/export.py, beside this file

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings: Path):
    """User settings of the throw-away JupyterLab: every cell in the DOM. (No news and no update check come from
    .venv, written by tools/lab.sh as for learners.)"""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for rel, data in files.items():
        p = settings / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data))


def pids_under(folder: Path) -> list[int]:
    """Processes whose working directory is inside folder (the kernels and evcxr's child this test started)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(Path(os.readlink(d / "cwd"))).startswith(str(folder)):
                    found.append(int(d.name))
            except OSError:
                pass
    return found


class Lab:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.token = ""  # JupyterLab generates it; read from the URL it prints (wait_ready)
        self.printed_url = ""
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "jupyterlab.log"
        env = os.environ.copy()
        env.update(
            JUPYTER_PATH=str(VENV / "share" / "jupyter"),
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
            JUPYTER_PLATFORM_DIRS="1",
            PORT=str(self.port),
            LAB_ROOT=str(tmp / "notebooks"),
        )
        write_settings(tmp / "settings")
        # `make lab`'s script (it adds --allow-root as root, and execs jupyter: self.proc is JupyterLab).
        args = [
            "bash", str(ROOT / "tools" / "lab.sh"), "--no-browser", "--ServerApp.port_retries=0",
            *(["--debug"] if os.environ.get("LAB_DEBUG") else []),
            "--LabApp.extension_manager=readonly",  # no PyPI queries from the server's extension manager
        ]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        want = re.compile(rf"(http://127\.0\.0\.1:{self.port}/\S*\?token=([0-9a-f]+))")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}; log: {self.log_path}")
            if not self.token:
                found = want.search(self.log_path.read_text(errors="replace"))
                if not found:
                    time.sleep(0.5)
                    continue
                self.printed_url, self.token = found.groups()
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s; log: {self.log_path}")

    def stop(self):
        # Shut the kernels down through the API (evcxr ends its child process), then the server.
        try:
            req = urllib.request.Request(f"{self.url}/api/shutdown?token={self.token}", method="POST", data=b"")
            urllib.request.urlopen(req, timeout=10).close()
            self.proc.wait(timeout=20)
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except Exception:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except Exception:
                    pass
        for pid in pids_under(self.tmp):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.log.close()


def ensure_executed(name: str, executed: Path) -> Path:
    path = executed / name
    src = ROOT / "notebooks" / name
    if path.is_file() and path.stat().st_mtime >= src.stat().st_mtime:
        return path
    print(f"browser test: no fresh executed copy of {name}; running it with the harness first", flush=True)
    env = dict(os.environ, JUPYTER_PATH=str(VENV / "share" / "jupyter"), PYTHONPATH=str(ROOT / "tools"))
    subprocess.run([str(VENV / "bin" / "python"), "-m", "nbtools", "run", "--no-mutation", "--executed-dir", str(executed), str(src)],
                   cwd=ROOT, env=env, check=False)
    if not path.is_file():
        sys.exit(f"browser test: the harness wrote no executed copy of {name}")
    return path


SLIDE_FIT_EXEMPT = HERE / "slide_fit_exempt.json"


def build_fit_decks(out: Path, executed: Path) -> list[dict]:
    """Every lesson's deck, as `make slides` writes it, for the slide-fit check: from the executed copy when it is
    newer than the notebook (outputs and charts on the slides), else from the notebook (code only: its slides are
    measured without their outputs, so an overflow may go unseen — the report says which)."""
    out.mkdir(parents=True, exist_ok=True)
    export.vendor(out)
    ex = export.slides_exporter()
    decks = []
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        copy = executed / src.name
        fresh = copy.is_file() and copy.stat().st_mtime >= src.stat().st_mtime
        nb = nbformat.read(copy if fresh else src, as_version=4)
        page = export.export_slides(nb, src.name, out, ex)
        decks.append({"stem": src.stem, "page": page.as_uri(), "outputs": fresh})
    return decks


def main() -> int:
    ap = argparse.ArgumentParser()
    # A short lesson with a chart and an exercise: Run All in JupyterLab must judge the learner's stub.
    ap.add_argument("--notebook", default="02_basic_threading.ipynb")
    ap.add_argument("--out", default=str(ROOT / "build" / "browser-test"))
    ap.add_argument("--executed", default=str(ROOT / "build" / "executed"))
    ap.add_argument("--run-timeout", type=float, default=420, help="seconds for Run All Cells (kernel start, :dep compile)")
    ap.add_argument("--docs", help="when every check passes, copy lab.png and slide.png here (README's pictures)")
    ap.add_argument("--skip", action="append", default=[], choices=["lab-index", "lab", "rise", "html", "slides", "fit"],
                    help="leave out a part of the test (while working on another; repeatable)")
    ns = ap.parse_args()
    started = time.monotonic()
    out = Path(ns.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    node_modules = HERE / "node_modules"
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing — `make setup` installs Debian's chromium")
    if not (node_modules / "playwright-core").is_dir():
        problems.append(f"playwright-core is missing in {node_modules} — run `make setup`")
    if shutil.which("node") is None:
        problems.append("node is missing — install Node.js 20 or newer")
    if problems:
        for p in problems:
            print(f"FAIL browser test: {p}")
        print("browser-test: 0 passed, 1 failed")
        return 1

    executed = ensure_executed(ns.notebook, Path(ns.executed))
    # Exports of the executed notebook, as `make html` and `make slides` write them.
    exp = [str(VENV / "bin" / "python"), str(HERE / "export.py")]
    for kind in ("html", "slides"):
        subprocess.run(exp + [kind, "--no-run", "--executed", str(executed.parent), "--out", str(out / kind), ns.notebook],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    stem = Path(ns.notebook).stem
    decks = [] if "fit" in ns.skip else build_fit_decks(out / "decks", executed.parent)

    tmp = Path(tempfile.mkdtemp(prefix="browser-test-"))
    shutil.copytree(ROOT / "notebooks", tmp / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (tmp / "support").symlink_to(ROOT / "support")
    nb = nbformat.read(tmp / "notebooks" / ns.notebook, as_version=4)
    # As in the deck: export.prepare_slides gives a solution cell its own sub-slide and leaves the wrong answers
    # out (so they count as skip here; matched by cell id — a zip would drop the notebook's last cells).
    deck_cells = export.prepare_slides(nb).cells
    deck = {d.get("id"): d for d in deck_cells}
    cells = [
        {
            "type": c.cell_type,
            "tags": list(c.get("metadata", {}).get("tags", [])),
            "head": c.source.lstrip().split("\n", 1)[0][:30],  # to find the cell on a page (the RISE check)
            "slide": (deck[c.get("id")].get("metadata", {}).get("slideshow", {}).get("slide_type", "-") or "-")
            if c.get("id") in deck else "skip",
        }
        for c in nb.cells
    ]
    done = nbformat.read(executed, as_version=4)
    figures = sum(1 for c in done.cells for o in c.get("outputs", []) if "image/svg+xml" in o.get("data", {}))
    lab = Lab(tmp)
    rc, summary = 1, "browser-test: 0 passed, 1 failed"
    try:
        lab.wait_ready()
        print(f"browser test: JupyterLab started by tools/lab.sh on {lab.url} (log {lab.log_path}), notebooks copied to {tmp / 'notebooks'}", flush=True)
        print(f"browser test: the URL it printed: {lab.printed_url.split('?token=')[0]}?token=…", flush=True)
        index = nbformat.read(tmp / "notebooks" / "00_index.ipynb", as_version=4)
        cfg = {
            "labUrl": lab.url,
            "token": lab.token,
            "printedUrl": lab.printed_url,
            "index": "00_index.ipynb",
            # The index's title (its first heading), to recognise it on the page.
            "indexTitle": next((ln.lstrip("# ").strip() for c in index.cells if c.cell_type == "markdown"
                                for ln in c.source.splitlines() if ln.startswith("# ")), ""),
            "notebook": ns.notebook,
            "cells": cells,
            # The deck's own cells (prepare_slides may add a "continued" title or move a long output to its own
            # sub-slide): the slide count to expect.
            "deckSlideTypes": [(d.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") or "-") for d in deck_cells],
            "figures": figures,
            "htmlPage": (out / "html" / f"{stem}.html").as_uri(),
            "slidesPage": (out / "slides" / f"{stem}.slides.html").as_uri(),
            "outDir": str(out),
            "runTimeoutSeconds": ns.run_timeout,
            "chromium": CHROMIUM,
            "skip": ns.skip,
            "decks": decks,
            "slideFitExempt": json.loads(SLIDE_FIT_EXEMPT.read_text()) if SLIDE_FIT_EXEMPT.is_file() else {},
            "slideFitExemptFile": str(SLIDE_FIT_EXEMPT.relative_to(ROOT)),
        }
        (out / "config.json").write_text(json.dumps(cfg, indent=1))
        with subprocess.Popen(["node", str(HERE / "browser_test.mjs"), str(out / "config.json")], cwd=HERE,
                              stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("browser-test:"):
                    summary = line.strip()  # printed last, below
                else:
                    print(line, end="", flush=True)
        rc = proc.returncode
    except Exception as error:
        print(f"FAIL browser test: {type(error).__name__}: {error}")
    finally:
        lab.stop()
    print(f"browser test: {time.monotonic() - started:.0f} s in all; screenshots in {out} (lab-index.png, lab.png, rise.png, html.png, slide.png)")
    if rc != 0:
        print(f"browser test FAILED — see the lines above, the screenshots in {out}, and JupyterLab's log {lab.log_path}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        if ns.docs:
            docs = Path(ns.docs)
            docs.mkdir(parents=True, exist_ok=True)
            for name in ("lab.png", "slide.png"):
                shutil.copy2(out / name, docs / name)
                size = (docs / name).stat().st_size
                print(f"browser test: {docs / name} ({size // 1024} KB)" + ("  — over 300 KB" if size > 300 * 1024 else ""))
    print(summary)  # the closing line: "browser-test: N passed, N failed"
    return rc


if __name__ == "__main__":
    sys.exit(main())
