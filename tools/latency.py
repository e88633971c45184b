"""Where a lesson's first seconds go: `make latency` (issue 19). See docs/latency.md for what the phases are.

For one light lesson (02) and one heavy one (12, support with the sqlite feature) this starts fresh evcxr kernels as
the harness does (tools/nbtools/runner.py's KernelSession, the kernelspec in .venv with tools/evcxr/init.evcxr, so
``:cache`` is on) and times, per kernel, the median of LATENCY_RUNS kernels (default 3):

flow "as a learner" (what a learner waits for):
  ready        start the kernel until it answers (evcxr's own start-up build, ``42``, happens in here)
  first cell   the lesson's first code cell as written (its ``:dep`` and ``use`` lines, definitions)
  next cell    the lesson's next code cell (it runs its code too: the lesson's threads, sleeps, I/O), its time
               split as in the split flow into rustc, linker and other
  edit 1, 2    that cell with one line changed (a comment added), run again, twice

flow "split" (the first cell taken apart, in another fresh kernel):
  ready        as above
  trivial      a cell ``1``: one cell's own build and run, before any dependency
  :dep lines   the ``:dep`` lines alone. evcxr resolves each (``cargo metadata``) and builds them right away; a
               sampler of the kernel's processes splits this time into cargo metadata, rustc really compiling,
               build scripts, the C compiler they run, the linker, and other (see ``Sampler``)
  rest         the rest of the first cell (``use`` lines, definitions), dependencies already built
  edit 1, 2    a one-line cell (``println!``), run, then edited and run again: a cell's build with nothing to run

Per split kernel also: which crates rustc really compiled during the ``:dep`` cell; how many rustc runs evcxr's
cache served (its hit counter, read with ``:cache`` before and after) and which new entries it stored; how many
``Compiling`` lines cargo printed (the kernel's stderr, captured as NBTOOLS_KERNEL_LOG does). The kernels use a
private copy of evcxr's cache (as ``make test``'s parallel jobs do), warmed first for these dependency sets, so the
numbers are for a warm cache and no other kernel touches its counters.

Each flow runs twice: with the kernel's build folder kept from an earlier kernel (what tools/evcxr/kernel.py gives
every kernel: folders warmed by the warm-up, in a private place) and with a new one each time (COURSE_BUILD_DIRS=off:
evcxr's own temporary folder, as before issue 19).

LATENCY_LESSONS=02,12 picks lessons (by number prefix); LATENCY_FLOWS=learner,split picks flows;
LATENCY_FOLDERS=kept,new picks build folders; LATENCY_LOGDIR=dir keeps the kernels' stderr.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from nbtools import runner
from nbtools.runner import KernelSession, evcxr_cache_slots, tags_of, warm_up

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = {"02": "light", "12": "heavy"}
EDITS = ('println!("{}", 6 * 7);', 'println!("{}", 6 * 8);', 'println!("{}", 6 * 9);')
TIMEOUT = 900.0  # seconds for any one cell (a cold build of SQLite on a loaded machine is slow)
COMPILING_RE = re.compile(rb"^\s*Compiling (\S+)", re.M)
HITS_RE = re.compile(r"Hits: (\d+)")
ENTRIES_RE = re.compile(r"Entries: (\d+)")


def first_code_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = [c for c in code if "setup" in tags_of(c)]
    return (setup or code)[0].source


def next_code_cell(path: Path) -> str:
    """The lesson's code cell after its first one (the first a learner edits and re-runs)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code.index(next(c for c in code if c.source == first_code_cell(path)))
    return code[first + 1].source


def split_first_cell(source: str) -> tuple[str, str]:
    lines = source.splitlines()
    deps = [line for line in lines if line.strip().startswith(":dep")]
    rest = [line for line in lines if not line.strip().startswith(":dep")]
    return "\n".join(deps), "\n".join(rest)


class Sampler:
    """Samples the kernel's process group every INTERVAL seconds while a cell runs and tells what the time went to:
    ``cargo metadata`` (resolving a ``:dep``), rustc really compiling a crate, build scripts and the C compiler
    they run (SQLite's C source for rusqlite), the linker, and "other" (no child process of the build:
    evcxr's own work in its process, e.g. its rust-analyzer analysis of the cell, loading the library). Cargo
    and evcxr's rustc wrapper (which serves ``:cache`` hits by copying files) are not counted as work of their own.
    "other": none of these running — evcxr's own work (its rust-analyzer pass over the cell, loading the library),
    cargo's bookkeeping, the wrapper copying cached files. A process shorter than INTERVAL may be missed: cache hits
    are counted from evcxr's own counter instead."""

    INTERVAL = 0.05
    KINDS = ("cargo metadata", "rustc", "build script", "C compiler", "linker")

    def __init__(self, pgid: int):
        import threading

        self.pgid = pgid
        self.stop = threading.Event()
        self.seconds = dict.fromkeys(self.KINDS + ("other",), 0.0)
        self.crates: set[str] = set()
        self.crate_seconds: dict[str, float] = {}  # wall time while rustc ran on that crate
        self._running: set[str] = set()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)

    def _group(self) -> list[list[str]]:
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if int(fields[2]) != self.pgid:
                    continue
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            except (OSError, IndexError, ValueError):
                continue
            if argv:
                found.append(argv)
        return found

    def classify(self, argv: list[str]) -> str | None:
        name = os.path.basename(argv[0])
        if name == "cargo":
            return "cargo metadata" if "metadata" in argv else None
        if name == "rustc":
            if "--crate-name" in argv:
                i = argv.index("--crate-name")
                if i + 1 < len(argv) and argv[i + 1] != "___":  # ___: cargo asking rustc for target info
                    self.crates.add(argv[i + 1])
                    self._running.add(argv[i + 1])
            return "rustc"
        if name.startswith("build-script-") or "/build/" in argv[0] and "build-script" in argv[0]:
            return "build script"
        if name in ("cc1", "cc1plus", "as"):
            return "C compiler"
        if name in ("ld", "collect2", "ld.lld", "lld", "mold", "ld.gold", "ld.bfd"):
            return "linker"
        return None

    def _loop(self):
        last = time.monotonic()
        while not self.stop.wait(self.INTERVAL):
            self._running = set()
            kinds = {k for k in map(self.classify, self._group()) if k}
            now = time.monotonic()
            step, last = now - last, now
            for crate in self._running:
                self.crate_seconds[crate] = self.crate_seconds.get(crate, 0.0) + step
            # Time goes to the innermost kind running (a linker runs under rustc, the C compiler under a build script).
            for kind in ("linker", "C compiler", "build script", "rustc", "cargo metadata"):
                if kind in kinds:
                    self.seconds[kind] += step
                    break
            else:
                self.seconds["other"] += step


class Kernel:
    """A fresh kernel with its stderr in a file of its own, and the cell timings."""

    def __init__(self, cwd: Path, log: Path):
        self.log = log
        os.environ["NBTOOLS_KERNEL_LOG"] = str(log)  # read by KernelSession when it starts the kernel
        start = time.monotonic()
        session = KernelSession.__new__(KernelSession)
        try:
            session.__init__("rust", cwd, startup_timeout=TIMEOUT)  # type: ignore[misc]
        except BaseException:
            if hasattr(session, "km"):  # started but never ready: leave no kernel behind
                session.kill()
            raise
        finally:
            os.environ.pop("NBTOOLS_KERNEL_LOG", None)
        self.session = session
        self.ready = time.monotonic() - start

    def pgid(self) -> int:
        provisioner = self.session.km.provisioner
        return provisioner.pgid or provisioner.pid  # type: ignore[union-attr]

    def log_size(self) -> int:
        self.session._log.flush()
        return self.log.stat().st_size if self.log.exists() else 0

    def run(self, source: str) -> tuple[float, runner.CellResult]:
        result = self.session._run(-1, source, set(), TIMEOUT)
        if result.failed:
            raise RuntimeError(f"cell failed: {source.splitlines()[0] if source else ''!r}: {result.failure_summary()}")
        return result.seconds, result

    def compiling_since(self, offset: int) -> list[str]:
        time.sleep(0.2)  # the kernel's stderr reaches the file a moment after the reply
        with open(self.log, "rb") as f:
            f.seek(offset)
            return [m.decode() for m in COMPILING_RE.findall(f.read())]

    def cache_stats(self) -> tuple[int, int]:
        _, result = self.run(":cache")
        text = result.text() + "".join("".join(o.get("data", {}).get("text/plain", "")) for o in result.outputs)
        hits, entries = HITS_RE.search(text), ENTRIES_RE.search(text)
        return (int(hits.group(1)) if hits else -1, int(entries.group(1)) if entries else -1)

    def close(self):
        if not self.session.dead:
            self.session.close()


def learner_flow(path: Path, logdir: Path, k: int) -> dict[str, float]:
    kernel = Kernel(path.parent, logdir / f"{path.stem}-learner-{k}.log")
    try:
        t: dict[str, float] = {"ready": kernel.ready}
        t["first cell"], _ = kernel.run(first_code_cell(path))
        t["first output"] = t["ready"] + t["first cell"]
        # The lesson's next cell, then the same cell edited (one line changed: a comment added) and run again, twice.
        cell = next_code_cell(path)
        with Sampler(kernel.pgid()) as sampler:
            t["next cell"], _ = kernel.run(cell)
        for kind in ("rustc", "linker", "other"):
            t[f"  {kind}"] = sampler.seconds[kind]
        t["edit 1"], _ = kernel.run(cell + "\n// edit 1")
        t["edit 2"], _ = kernel.run(cell + "\n// edit 2")
        return t
    finally:
        kernel.close()


def split_flow(path: Path, logdir: Path, k: int) -> dict[str, float]:
    deps, rest = split_first_cell(first_code_cell(path))
    kernel = Kernel(path.parent, logdir / f"{path.stem}-split-{k}.log")
    try:
        t: dict[str, float] = {"ready": kernel.ready}
        t["trivial"], _ = kernel.run("1")
        hits0, entries0 = kernel.cache_stats()
        offset = kernel.log_size()
        since = time.time()
        with Sampler(kernel.pgid()) as sampler:
            t[":dep lines"], _ = kernel.run(deps)
        compiled = kernel.compiling_since(offset)
        hits1, entries1 = kernel.cache_stats()
        for kind, seconds in sampler.seconds.items():
            t[f"  {kind}"] = seconds
        t["rest"], _ = kernel.run(rest)
        t["edit 1"], _ = kernel.run(EDITS[0])
        t["edit 2"], _ = kernel.run(EDITS[1])
        t["crates rustc built"] = len(sampler.crates)
        t["cache hits"] = hits1 - hits0 if hits0 >= 0 and hits1 >= 0 else float("nan")
        t["new cache entries"] = entries1 - entries0 if entries0 >= 0 and entries1 >= 0 else float("nan")
        t["Compiling lines"] = len(compiled)
        t["_crates"] = {c: round(sampler.crate_seconds.get(c, 0.0), 2) for c in sorted(sampler.crates)}  # type: ignore[assignment]
        t["_new_entries"] = new_cache_entries(since)  # type: ignore[assignment]
        return t
    finally:
        kernel.close()


def new_cache_entries(since: float) -> list[str]:
    """The crates of evcxr cache entries written since ``since`` (a miss stores one; see docs/latency.md)."""
    names = []
    for meta in (Path(runner.KERNEL_ENV.overrides["XDG_CACHE_HOME"]) / "evcxr").glob("*/meta"):
        if meta.stat().st_mtime >= since:
            args = meta.read_text(errors="replace").splitlines()
            names.append(args[args.index("--crate-name") + 1] if "--crate-name" in args[:-1] else meta.parent.name)
    return sorted(names)


def median_table(title: str, runs: list[dict[str, float]]) -> list[str]:
    keys = [k for k in runs[0] if not k.startswith("_")]
    lines = [f"{title} (median of {len(runs)} fresh kernels; each run in brackets)"]
    for key in keys:
        values = [r[key] for r in runs]
        count = key in ("Compiling lines", "cache hits", "new cache entries", "crates rustc built")
        fmt = (lambda v: f"{v:.0f}") if count else (lambda v: f"{v:.2f}")
        unit = "" if count else " s"
        lines.append(f"  {key:<20}{fmt(statistics.median(values)):>8}{unit:<3} [{', '.join(fmt(v) for v in values)}]")
    return lines


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        with open("/proc/loadavg") as f:
            return "load average: " + " ".join(f.read().split()[:3])


def main() -> int:
    n = int(os.environ.get("LATENCY_RUNS", "3"))
    wanted = [x.strip() for x in os.environ.get("LATENCY_LESSONS", ",".join(LESSONS)).split(",") if x.strip()]
    flows = [x.strip() for x in os.environ.get("LATENCY_FLOWS", "learner,split").split(",") if x.strip()]
    folders = [x.strip() for x in os.environ.get("LATENCY_FOLDERS", "kept,new").split(",") if x.strip()]
    if not set(folders) <= {"kept", "new"}:
        sys.exit(f"latency: LATENCY_FOLDERS must name kept and/or new, not {','.join(folders)}")
    paths = []
    for prefix in wanted:
        found = sorted(NOTEBOOKS.glob(f"{prefix}_*.ipynb"))
        if not found:
            sys.exit(f"latency: no notebook notebooks/{prefix}_*.ipynb")
        paths.append(found[0])
    print(f"latency: {n} fresh kernel(s) per flow; {uptime()}; {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        tmpdir = Path(tmp)
        start = time.monotonic()
        # A private copy of evcxr's cache, then warmed for these lessons' :dep lines (not timed).
        runner.KERNEL_ENV.overrides = evcxr_cache_slots(1, tmpdir / "cache")[0]
        kept = str(tmpdir / "build-dirs")  # tools/evcxr/kernel.py's folders, private to this run
        runner.KERNEL_ENV.overrides["COURSE_BUILD_DIRS"] = kept
        print(f"latency: copied evcxr's cache ({time.monotonic() - start:.0f} s); warming it for {', '.join(p.name for p in paths)}", flush=True)
        problems = warm_up(paths, setup_timeout=TIMEOUT)
        if problems:
            print("\n".join(problems))
            return 1
        logdir = Path(os.environ.get("LATENCY_LOGDIR") or tmpdir / "logs")  # LATENCY_LOGDIR=dir keeps the kernels' stderr
        logdir.mkdir(parents=True, exist_ok=True)
        report: list[str] = []
        for path in paths:
            kind = LESSONS.get(path.name[:2], "")
            for folder, flow in ((folder, flow) for folder in folders for flow in flows):
                runner.KERNEL_ENV.overrides["COURSE_BUILD_DIRS"] = kept if folder == "kept" else "off"
                label = "build folder kept" if folder == "kept" else "new build folder"
                runs = []
                for k in range(n):
                    load = uptime().split("load average:")[-1].strip()
                    t = (learner_flow if flow == "learner" else split_flow)(path, logdir, k)
                    print(f"latency: {path.stem} {flow}, {label}, #{k + 1}: "
                          + ", ".join(f"{key} {v:.2f}" for key, v in t.items() if not key.startswith("_"))
                          + f" (load before: {load})", flush=True)
                    runs.append(t)
                report += median_table(f"{path.stem} ({kind}), flow '{flow}', {label}", runs)
                if flow == "split":
                    crates = runs[-1]["_crates"]  # type: ignore[assignment]
                    listed = " ".join(f"{c} ({s:.1f} s)" for c, s in crates.items())  # type: ignore[attr-defined]
                    report.append(f"  crates rustc compiled during the :dep cell, with rustc's wall time (last run): {listed or '-'}")
                    report.append(f"  new evcxr cache entries (last run): {' '.join(runs[-1]['_new_entries']) or '-'}")  # type: ignore[arg-type]
        print()
        print("\n".join(report))
        print(f"\nlatency: {uptime()}; total {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
