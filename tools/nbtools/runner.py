"""Execute notebooks on the evcxr Rust kernel and judge every cell.

Why a harness of our own: evcxr reports a Rust panic (a failed ``assert!`` included) only as text on stderr, and
``jupyter nbconvert --execute`` exits 0 on it. Here a cell fails when

* the kernel replies with an error or sends an ``error`` message (compile errors, evcxr errors),
* its output contains panic text (``panicked at``), also when that text arrives late, from a thread the cell
  left running (after the last cell the runner waits for the kernel to fall quiet before judging),
* it runs longer than its timeout; the kernel is then killed and the notebook fails,
* its result is a bare ``()`` (a cell ending in a block or loop without ``;``) — noise a learner should not see.

Cell tags (``metadata.tags``):

``raises-exception``  the cell must fail (a compile error Rust catches, a deliberate panic). Output that spills
                      from it into the next cell is charged to it, not to the next cell.
``expect-panic``      the cell demonstrates a panic that is handled (a thread's panic seen through ``join``): panic
                      text is expected and required, an error reply still fails it.
``setup``             cells the exercise needs (``:dep`` and ``use`` lines); run before the exercise in the
                      mutation check.
``exercise``          the exercise's stub that a learner edits; marks where the exercise begins.
``check``             asserts on the exercise; stands right after the stub.
``solution``          the reference solution; stands after the checks (so that Run All in JupyterLab judges the
                      learner's stub, never ours), source collapsed; removed in learner copies. The main run runs
                      it right after its stub (``main_run_cells``), so the checks pass on it there.
``wrong``             a plausible wrong answer: a *raw* cell (Run All never runs it), first line ``// WRONG: …``.

Mutation check (``mutation_runs``, ``mutation_check``): each exercise is run again without its solution — the
``setup`` cells, the stub, the checks — and once more per ``wrong`` cell, with that cell right after the stub.
Every ``check`` must then fail at run time (an assert or a panic): a check that passes, does not compile, or hangs
is a problem, and so is a wrong answer or stub that fails by itself (a compile error shows nothing about the check).

A cell may set ``metadata.timeout`` (seconds) to override the default timeout.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Iterable

import nbformat

PANIC_RE = re.compile(r"panicked at|has overflowed its stack|fatal runtime error")
QUIET_SECONDS = 1.0  # how long the kernel must stay silent before late output is considered over
LATE_MAX_SECONDS = 10.0  # the longest we wait for late output after a cell or a notebook
AFTER_TAGGED_CELL_SECONDS = 1.0  # at least this long after a raises-exception / expect-panic cell
AFTER_NOTEBOOK_SECONDS = 3.0  # at least this long after the last cell

# Notebooks run in parallel (``--jobs``) must not build the same dependency for the first time at once: on a fresh
# machine, concurrent evcxr builds that download crates and fill evcxr's artifact cache failed with "Compilation
# failed, but no parsable errors were found ... Blocking waiting for file lock on package cache" (CI, 3 kernels).
# So a cell with a ``:dep`` line not yet built by this process waits for the other cold builds; once that line has
# built, cells that repeat it run in parallel (from evcxr's cache).
_COLD_DEP_LOCK = threading.Lock()
_WARM_DEPS: set[str] = set()

# Environment variables for the kernels this thread starts (``evcxr_cache_slots``: each parallel job its own copy of
# evcxr's compilation cache).
KERNEL_ENV = threading.local()


def evcxr_cache_dir() -> Path:
    """Where evcxr keeps its compilation cache (``:cache``): ``dirs::cache_dir()/evcxr``, i.e. $XDG_CACHE_HOME/evcxr,
    else ~/.cache/evcxr (evcxr 0.22, src/module/cache.rs)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evcxr"


def evcxr_cache_slots(jobs: int, parent: Path) -> list[dict[str, str]]:
    """One copy of evcxr's (warmed) compilation cache per parallel job, as kernel environments. evcxr's cache is not
    safe for kernels that use it at once: a hit rewrites the entry's ``hits`` file (truncate, then write) and
    another kernel reading it in between fails its build with "Failed to wrap rustc: cannot parse integer from empty
    string" (seen here with several kernels building at once). A job's kernels run one after another, so each copy
    has one user at a time."""
    source = evcxr_cache_dir()
    slots = []
    for k in range(jobs):
        home = parent / f"job-{k}"
        if source.is_dir():
            shutil.copytree(source, home / "evcxr", symlinks=True)
        else:
            home.mkdir(parents=True, exist_ok=True)
        slots.append({"XDG_CACHE_HOME": str(home)})
    return slots


def dep_lines(source: str) -> set[str]:
    return {" ".join(line.split()) for line in source.splitlines() if line.strip().startswith(":dep")}


WORKSPACE = Path(__file__).resolve().parents[2]  # the repository: its Cargo.toml names support with every feature


def dependency_sets(paths: Iterable[Path]) -> list[tuple[Path, list[str], list[str]]]:
    """Each distinct set of ``:dep`` lines a notebook loads, with the folder its kernel runs in: (folder, the lines
    as written in notebook order, the notebooks). Notebooks whose kernels build the same dependencies share one."""
    found: dict[tuple[Path, frozenset[str]], tuple[list[str], list[str]]] = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        lines: list[str] = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                lines += [line.strip() for line in cell.source.splitlines() if line.strip().startswith(":dep")]
        if lines:
            key = (Path(path).parent.resolve(), frozenset(" ".join(line.split()) for line in lines))
            found.setdefault(key, (list(dict.fromkeys(lines)), []))[1].append(Path(path).name)
    return [(folder, lines, names) for (folder, _), (lines, names) in found.items()]


def warm_up(paths: Iterable[Path], setup_timeout: float = 900, log=print) -> list[str]:
    """Fills, once and one build at a time, what every kernel shares, so that notebooks run in parallel never wait
    on each other's downloads: cargo's registry index and package cache (``cargo fetch`` on the workspace, which
    names support with every feature), then evcxr's compilation cache (``:cache`` in tools/evcxr/init.evcxr): one
    kernel builds each distinct set of ``:dep`` lines of the notebooks, with ``:clear`` between sets. The lines that
    built are marked warm, so the first-build lock (``KernelSession.run``) lets kernels build them at once.
    Returns problems (empty when all is warm)."""
    import subprocess

    problems: list[str] = []
    start = time.monotonic()
    if (WORKSPACE / "Cargo.toml").is_file():
        fetched = subprocess.run(["cargo", "fetch", "--quiet"], cwd=WORKSPACE, capture_output=True, text=True)
        if fetched.returncode != 0:
            problems.append(f"warm-up: cargo fetch failed: {first_line(fetched.stderr)}")
    fetch_seconds = time.monotonic() - start
    sets = dependency_sets(paths)
    built = 0
    for folder in dict.fromkeys(f for f, _, _ in sets):
        session = None
        try:
            session = KernelSession("rust", folder)
            for i, (f, lines, names) in enumerate(x for x in sets if x[0] == folder):
                if i:
                    session.run(-1, ":clear", set(), setup_timeout)
                # A cell with code after the :dep lines: evcxr builds the dependencies to compile it.
                r = session._run(-1, "\n".join(lines) + "\nlet _warm_up = 0;", set(), setup_timeout)
                if r.failed:
                    problems.append(f"warm-up: building {' '.join(lines)} (for {', '.join(names)}): {r.failure_summary()}")
                    if session.dead:
                        break
                else:
                    built += 1
                    _WARM_DEPS.update(" ".join(line.split()) for line in lines)
        except Exception as error:
            problems.append(f"warm-up: kernel in {folder}: {type(error).__name__}: {error}")
        finally:
            if session is not None and not session.dead:
                session.close()
    log(
        f"warm-up: cargo fetch {fetch_seconds:.0f} s; {built} of {len(sets)} dependency sets built once, one at a "
        f"time ({time.monotonic() - start - fetch_seconds:.0f} s)",
        flush=True,
    )
    return problems


@dataclasses.dataclass
class CellResult:
    index: int  # index among all cells of the notebook
    tags: set[str]
    msg_id: str = ""
    outputs: list = dataclasses.field(default_factory=list)
    error: str | None = None  # error reply or error message: a summary
    timed_out: bool = False
    seconds: float = 0.0
    execution_count: int | None = None

    def text(self, stream: str | None = None) -> str:
        parts = []
        for out in self.outputs:
            if out.get("output_type") == "stream" and (stream is None or out.get("name") == stream):
                parts.append(out.get("text", ""))
            elif out.get("output_type") == "error" and stream in (None, "stderr"):
                parts.append("\n".join(out.get("traceback", [])) or out.get("evalue", ""))
        return "".join(parts)

    @property
    def panicked(self) -> bool:
        return bool(PANIC_RE.search(self.text()))

    @property
    def failed(self) -> bool:
        return self.error is not None or self.panicked or self.timed_out

    def failure_summary(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.error is not None:
            return self.error
        match = PANIC_RE.search(self.text())
        if match:
            text = self.text()
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            # The panic line and the message after it.
            snippet = text[line_start : line_end if line_end != -1 else None]
            rest = text[line_end + 1 :].splitlines()[:2] if line_end != -1 else []
            return "panic: " + " | ".join([snippet.strip(), *[r.strip() for r in rest if r.strip()]])
        return "ok"

    @property
    def shows_unit(self) -> bool:
        """The cell's result is a bare ``()`` (a block or loop without a trailing ``;``): noise in a lesson."""
        return any(
            out.get("output_type") == "execute_result" and "".join(out.get("data", {}).get("text/plain", "")) == "()"
            for out in self.outputs
        )

    @property
    def figures(self) -> int:
        count = 0
        for out in self.outputs:
            data = out.get("data", {})
            if "image/svg+xml" in data or "image/png" in data or "<svg" in data.get("text/html", ""):
                count += 1
        return count


@dataclasses.dataclass
class NotebookResult:
    path: Path
    cells: list[CellResult]
    problems: list[str]
    seconds: float
    mutation_problems: list[str] = dataclasses.field(default_factory=list)
    mutation_seconds: float = 0.0
    checks: int = 0
    wrongs: int = 0  # wrong answers run against the checks
    mutation_kernels: int = 0  # kernels the mutation check started (0: it ran in the main run's kernel)
    mutation_ran: bool = False  # False when skipped (--no-mutation, or the main run failed)

    @property
    def passed(self) -> bool:
        return not self.problems and not self.mutation_problems

    @property
    def figures(self) -> int:
        return sum(c.figures for c in self.cells)


def tags_of(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


class KernelSession:
    """One evcxr kernel, started in the notebook's folder as JupyterLab does."""

    def __init__(self, kernel_name: str, cwd: Path, startup_timeout: float = 120):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name=kernel_name)
        # The kernel's own stdout/stderr (cargo's "Compiling …" lines) are noise here; cell output comes over
        # Jupyter's channels. NBTOOLS_KERNEL_LOG=path keeps them for debugging.
        log_path = os.environ.get("NBTOOLS_KERNEL_LOG")
        self._log = open(log_path, "ab") if log_path else open(os.devnull, "wb")
        env = {**os.environ, **getattr(KERNEL_ENV, "overrides", {})}
        self.km.start_kernel(cwd=str(cwd), env=env, stdout=self._log, stderr=self._log)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=startup_timeout)
        self.by_msg_id: dict[str, CellResult] = {}
        self.dead = False

    def close(self):
        self.dead = True  # no more cells
        try:
            self.kc.stop_channels()
        finally:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                pass
            self._kill_process_group()

    def _kill_process_group(self):
        """evcxr runs cells in a child process; killing only the kernel would orphan it (still running the cell)."""
        try:
            # The kernel was started in a new session, so its process group id is its pid; the group outlives it.
            pgid = self.km.provisioner.pgid or self.km.provisioner.pid  # type: ignore[union-attr]
            os.killpg(pgid, signal.SIGKILL)
        except Exception:
            pass

    def kill(self):
        self.dead = True
        try:
            self.kc.stop_channels()
        finally:
            self._kill_process_group()
            try:
                self.km.kill_kernel()
            except Exception:
                pass
            try:
                self.km.cleanup_resources()
            except Exception:
                pass

    def _route(self, msg, current: CellResult | None) -> tuple[CellResult | None, bool]:
        """Stores an iopub message with the cell it belongs to. Returns (cell, is_idle_of_that_cell)."""
        parent = msg.get("parent_header", {}).get("msg_id", "")
        cell = self.by_msg_id.get(parent, current)
        if cell is None:
            return None, False
        mtype = msg["msg_type"]
        content = msg["content"]
        if mtype == "status":
            return cell, content.get("execution_state") == "idle" and parent == cell.msg_id
        if mtype == "stream":
            # Merge consecutive stream chunks of the same name, as Jupyter does.
            if cell.outputs and cell.outputs[-1].get("output_type") == "stream" and cell.outputs[-1]["name"] == content["name"]:
                cell.outputs[-1]["text"] += content["text"]
            else:
                cell.outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=content["text"]))
        elif mtype in ("display_data", "execute_result"):
            kwargs = {"data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if mtype == "execute_result":
                kwargs["execution_count"] = content.get("execution_count")
            cell.outputs.append(nbformat.v4.new_output(mtype, **kwargs))
        elif mtype == "error":
            cell.outputs.append(
                nbformat.v4.new_output(
                    "error", ename=content.get("ename", ""), evalue=content.get("evalue", ""), traceback=content.get("traceback", [])
                )
            )
            if cell.error is None:
                cell.error = "error: " + first_line(content.get("evalue") or "\n".join(content.get("traceback", [])))
        elif mtype == "clear_output":
            cell.outputs.clear()
        return cell, False

    def drain(self, current: CellResult | None, at_least: float, quiet: float = QUIET_SECONDS, limit: float = LATE_MAX_SECONDS):
        """Collects output still arriving (late panic text): for at least `at_least` seconds, then until the kernel
        has been quiet for `quiet` seconds, `limit` seconds at the most."""
        start = time.monotonic()
        deadline = start + limit
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            wait = max(quiet, start + at_least - now)
            try:
                msg = self.kc.get_iopub_msg(timeout=min(wait, deadline - now))
            except queue.Empty:
                if time.monotonic() >= start + at_least:
                    return
                continue
            self._route(msg, current)

    def run(self, cell_index: int, source: str, tags: set[str], timeout: float) -> CellResult:
        deps = dep_lines(source)
        if deps - _WARM_DEPS:
            with _COLD_DEP_LOCK:
                result = self._run(cell_index, source, tags, timeout)
                if not result.failed:
                    _WARM_DEPS.update(deps)
                return result
        return self._run(cell_index, source, tags, timeout)

    def _run(self, cell_index: int, source: str, tags: set[str], timeout: float) -> CellResult:
        result = CellResult(index=cell_index, tags=tags)
        start = time.monotonic()
        result.msg_id = self.kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        self.by_msg_id[result.msg_id] = result
        deadline = start + timeout
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.timed_out = True
                result.seconds = time.monotonic() - start
                self.kill()
                return result
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 5.0))
            except queue.Empty:
                if not self.km.is_alive():
                    result.error = "error: the kernel died"
                    self.dead = True
                    result.seconds = time.monotonic() - start
                    return result
                continue
            owner, is_idle = self._route(msg, result)
            idle = is_idle and owner is result
        # The reply carries the status; it is normally already there when the kernel went idle.
        try:
            while True:
                reply = self.kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
                if reply.get("parent_header", {}).get("msg_id") == result.msg_id:
                    break
            content = reply["content"]
            result.execution_count = content.get("execution_count")
            if content.get("status") == "error" and result.error is None:
                result.error = "error: " + first_line(content.get("evalue") or "\n".join(content.get("traceback", [])) or content.get("ename", ""))
        except queue.Empty:
            result.error = result.error or "error: no reply from the kernel"
        result.seconds = time.monotonic() - start
        return result


def first_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:3])[:300] if lines else "(no message)"


def default_timeout(cell, tags: set[str], is_first_code_cell: bool, cell_timeout: float, setup_timeout: float) -> float:
    if "timeout" in cell.get("metadata", {}):
        return float(cell["metadata"]["timeout"])
    if "setup" in tags or is_first_code_cell:
        return setup_timeout
    return cell_timeout


def run_cells(
    session: KernelSession, nb, cells: Iterable[int], cell_timeout: float, setup_timeout: float, first: bool = True
) -> tuple[list[CellResult], list[str]]:
    """Runs the given cells (indices into nb.cells) in the session, then waits for late output. ``first``: the first
    cell is the kernel's first (it builds the dependencies: the setup timeout)."""
    results: list[CellResult] = []
    problems: list[str] = []
    for i in cells:
        cell = nb.cells[i]
        tags = tags_of(cell)
        timeout = default_timeout(cell, tags, first, cell_timeout, setup_timeout)
        first = False
        result = session.run(i, cell.source, tags, timeout)
        results.append(result)
        if session.dead:
            problems.append(f"cell {i}: {result.failure_summary()}; kernel stopped, remaining cells not run")
            break
        if tags & {"raises-exception", "expect-panic"}:
            # Let panic text from this cell's threads arrive now, so that it is charged to this cell.
            session.drain(result, AFTER_TAGGED_CELL_SECONDS)
    if not session.dead:
        # Late output after the last cell: a detached thread's panic arrives here.
        session.drain(results[-1] if results else None, AFTER_NOTEBOOK_SECONDS)
    return results, problems


def start_session(nb, cwd: Path, kernel_name: str | None = None) -> KernelSession:
    return KernelSession(kernel_name or nb.metadata.get("kernelspec", {}).get("name", "rust"), cwd)


def execute(
    nb,
    cwd: Path,
    cells: Iterable[int],
    cell_timeout: float,
    setup_timeout: float,
    kernel_name: str | None = None,
) -> tuple[list[CellResult], list[str]]:
    """Runs the given cells (indices into nb.cells) in one fresh kernel. Returns results and kernel problems."""
    session = start_session(nb, cwd, kernel_name)
    try:
        return run_cells(session, nb, cells, cell_timeout, setup_timeout)
    finally:
        if not session.dead:
            session.close()


def judge(results: list[CellResult]) -> list[str]:
    problems = []
    for r in results:
        if "raises-exception" in r.tags:
            if not (r.error or r.panicked or r.timed_out):
                problems.append(f"cell {r.index}: tagged raises-exception but did not fail")
            elif r.timed_out:
                problems.append(f"cell {r.index}: {r.failure_summary()}")
        elif "expect-panic" in r.tags:
            if r.error or r.timed_out:
                problems.append(f"cell {r.index}: {r.failure_summary()}")
            elif not r.panicked:
                problems.append(f"cell {r.index}: tagged expect-panic but printed no panic")
        elif r.failed:
            problems.append(f"cell {r.index}: {r.failure_summary()}")
        if r.shows_unit:
            problems.append(f"cell {r.index}: shows `()` as its result: end the cell (or its last block or loop) with `;`")
    return problems


def exercise_groups(nb) -> list[dict]:
    """Each ``exercise`` cell with the cells of its exercise: the ``solution``, ``check`` and ``wrong`` cells after it,
    up to the next ``exercise`` cell. Lesson layout: stub, check, solution, wrong answers (raw cells)."""
    groups: list[dict] = []
    for i, cell in enumerate(nb.cells):
        tags = tags_of(cell)
        if "exercise" in tags and cell.cell_type == "code":
            groups.append({"exercise": i, "solutions": [], "checks": [], "wrongs": [], "cells": []})
        elif groups:
            group = groups[-1]
            if "solution" in tags:
                group["solutions"].append(i)
            elif "check" in tags:
                group["checks"].append(i)
            elif "wrong" in tags:
                group["wrongs"].append(i)
            elif cell.cell_type == "code":
                group["cells"].append(i)
    return groups


def main_run_cells(nb) -> list[int]:
    """The code cells of the main run, in order, except that each exercise's solution runs right after its stub
    (in the notebook it stands after the check, so that Run All judges the learner's stub, never our solution)."""
    moved: dict[int, list[int]] = {g["exercise"]: g["solutions"] for g in exercise_groups(nb)}
    solutions = {i for s in moved.values() for i in s}
    order: list[int] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i in solutions:
            continue
        order.append(i)
        order += moved.get(i, [])
    return order


def mutation_runs(nb) -> list[tuple[str, list[int], list[int]]]:
    """The runs that must fail: per exercise, the stub alone and the stub followed by each ``wrong`` answer.
    Each is (label, cells, checks): the ``setup`` cells before the exercise, then the exercise's own code cells up to
    its last check, without the solution."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    setup = [i for i in code if "setup" in tags_of(nb.cells[i])]
    runs = []
    for g in exercise_groups(nb):
        if not g["checks"]:
            continue
        begin, end = g["exercise"], max(g["checks"])
        before = [i for i in setup if i < begin] if setup else [i for i in code if i < begin]
        body = [i for i in code if begin < i <= end and i not in g["solutions"]]
        runs.append(("the stub", before + [begin] + body, g["checks"]))
        for w in g["wrongs"]:
            runs.append((f"wrong answer (cell {w})", before + [begin, w] + body, g["checks"]))
    return runs


def judge_mutation(nb, label: str, cells: list[int], checks: list[int], results: list[CellResult], kernel: list[str]) -> list[str]:
    """The verdict on one mutation run: the stub and the wrong answer compile and run; every check fails at run time
    (an assert or a panic, not a compile error, not a hang)."""
    problems = []
    by_index = {r.index: r for r in results}
    for i in cells:
        r = by_index.get(i)
        if r is None or i in checks or not r.failed:
            continue
        tags = tags_of(nb.cells[i])
        if "wrong" in tags:
            problems.append(
                f"cell {i}: the wrong answer fails by itself ({r.failure_summary()}); a wrong answer must compile and "
                "fail the check at run time"
            )
        elif "exercise" in tags:
            problems.append(f"cell {i}: with {label}, the exercise stub fails by itself ({r.failure_summary()}); it must compile and run")
    for i in checks:
        r = by_index.get(i)
        if r is None:
            problems.append(f"cell {i}: check was not reached with {label}")
        elif not r.failed:
            problems.append(f"cell {i}: check passes with {label} (it must fail)")
        elif r.timed_out:
            problems.append(
                f"cell {i}: with {label} the check hangs ({r.failure_summary()}); give every wait a timeout that turns "
                "into a panic"
            )
        elif r.error is not None and not r.panicked:
            problems.append(
                f"cell {i}: with {label} the check does not compile or errors ({r.error}); "
                "the check's asserts must be what fails (give the stub the solution's signatures)"
            )
    problems += [f"with {label}: {p}" for p in kernel if not any(p.startswith(f"cell {i}:") for i in checks)]
    return problems


def mutation_check(
    nb, path: Path, cell_timeout: float, setup_timeout: float, session: KernelSession | None = None, fresh: bool = False
) -> tuple[list[str], int]:
    """Runs every mutation (``mutation_runs``) and judges it. Returns (problems, kernels started).

    The runs share one kernel (``session`` when given, e.g. the main run's, else one started here): before each run
    but the first, ``:clear`` gives evcxr a new child process — the one that runs the code, with all its statics,
    threads and variables — and forgets every definition and ``:dep``; the run then repeats the setup cells. What
    stays is the kernel's build folder (the compiled dependencies: a cache, not state the code can see) and files
    the code wrote, as with fresh kernels run one after another. A run whose kernel dies or times out is judged on
    what it did; the next run starts a fresh kernel. ``fresh``: a fresh kernel for every run (slower; for comparison)."""
    problems: list[str] = []
    started = 0
    cwd = path.parent.resolve()
    owned: list[KernelSession] = []
    try:
        for label, cells, checks in mutation_runs(nb):
            first = False
            if session is not None and not session.dead and not fresh:
                cleared = session.run(-1, ":clear", set(), setup_timeout)
                if cleared.failed or session.dead:
                    if not session.dead:
                        session.close()
                    session = None
            if session is None or session.dead or fresh:
                if session is not None and session in owned:
                    session.close()
                try:
                    session = start_session(nb, cwd)
                except Exception as error:
                    problems.append(f"with {label}: kernel: {type(error).__name__}: {error}")
                    session = None
                    continue
                owned.append(session)
                started += 1
                first = True
            results, kernel = run_cells(session, nb, cells, cell_timeout, setup_timeout, first=first)
            problems += judge_mutation(nb, label, cells, checks, results, kernel)
    finally:
        for owned_session in owned:
            if not owned_session.dead:
                owned_session.close()
    return problems, started


def run_notebook(
    path: Path,
    cell_timeout: float = 120,
    setup_timeout: float = 600,
    mutation: bool = True,
    rerun: bool = False,
    fresh_kernels: bool = False,
) -> NotebookResult:
    """Runs a notebook in a fresh kernel and judges every cell; then the mutation check of its exercises, in the
    same kernel after ``:clear`` (``mutation_check``; ``fresh_kernels``: a fresh kernel per mutation run).

    ``rerun``: after the last cell, run every code cell once more in the same kernel, as a learner does with
    "Run All" twice — a cell that works only once (a ``OnceLock`` set twice, a file created twice) fails then.
    The executed copy keeps the first pass's outputs."""
    path = Path(path)
    start = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    problems: list[str] = []
    if not code:  # nothing to execute (the index): no kernel needed
        result = NotebookResult(path, [], [], time.monotonic() - start)
        result.executed = nb  # type: ignore[attr-defined]
        return result
    try:
        session = start_session(nb, path.parent.resolve())
    except Exception as error:  # the kernel would not start: say why
        return NotebookResult(path, [], [f"kernel: {type(error).__name__}: {error}"], time.monotonic() - start)
    try:
        order = main_run_cells(nb)
        try:
            results, kernel_problems = run_cells(session, nb, order + order if rerun else order, cell_timeout, setup_timeout)
        except Exception as error:  # the kernel client failed: say why
            return NotebookResult(path, [], [f"kernel: {type(error).__name__}: {error}"], time.monotonic() - start)
        results, second_pass = results[: len(order)], results[len(order) :]
        problems += judge(results) + [f"re-run in the same kernel: {p}" for p in judge(second_pass)] + kernel_problems
        problems = list(dict.fromkeys(problems))
        # Keep the outputs for the executed copy.
        for r in results:
            nb.cells[r.index].outputs = r.outputs
            nb.cells[r.index].execution_count = r.execution_count
        result = NotebookResult(path, results, problems, time.monotonic() - start)
        result.executed = nb  # type: ignore[attr-defined]

        runs = mutation_runs(nb)
        grouped = {i for g in exercise_groups(nb) for i in g["checks"]}
        for i, cell in enumerate(nb.cells):
            if "check" in tags_of(cell) and i not in grouped:
                result.mutation_problems.append(
                    f"cell {i}: check without an exercise stub before it (tag exercise): nothing shows that it can fail"
                )
        result.checks = len({i for _, _, checks in runs for i in checks})
        result.wrongs = sum(1 for label, _, _ in runs if label != "the stub")
        if mutation and runs and not problems:
            m_start = time.monotonic()
            found, result.mutation_kernels = mutation_check(
                nb, path, cell_timeout, setup_timeout, session=None if fresh_kernels else session, fresh=fresh_kernels
            )
            result.mutation_problems += found
            result.mutation_seconds = time.monotonic() - m_start
            result.mutation_ran = True
    finally:
        if not session.dead:
            session.close()
    result.seconds = time.monotonic() - start
    return result
