"""Command line of the course tooling. Run from the repository root with the .venv's Python:

    python -m nbtools run [NOTEBOOK ...]     execute notebooks in fresh kernels and judge every cell
    python -m nbtools hygiene [NOTEBOOK ...] nbformat 4, Rust kernel, no outputs, tags known
    python -m nbtools nav [--check]          regenerate (or check) navigation links and the index's lesson table

Learner copies without solutions: `make exercises` (tools/export/export.py).

(`tools/` is put on PYTHONPATH by the Makefile.)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import queue
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from . import hygiene, navigation
from . import runner
from .runner import evcxr_cache_slots, run_notebook, warm_up

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def notebook_paths(args: list[str]) -> list[Path]:
    if args:
        paths = [Path(a) for a in args]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            sys.exit(f"no such notebook: {', '.join(missing)}")
        return paths
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def cmd_run(ns) -> int:
    paths = notebook_paths(ns.notebooks)
    if not paths:
        print("no notebooks to run")
        print("0 passed, 0 failed")
        return 1
    out_dir = Path(ns.executed_dir) if ns.executed_dir else None
    slots: queue.Queue = queue.Queue()
    for env in [{}] * ns.jobs:
        slots.put(env)
    scratch = None
    if ns.jobs > 1 and len(paths) > 1 and not ns.no_warm_up:
        scratch = Path(tempfile.mkdtemp(prefix="nbtools-evcxr-cache-"))
        # The kernels' build folders (tools/evcxr/kernel.py): this run's own, so the warm-up's folder is one the jobs
        # then reuse, and no earlier run's folder (its Cargo.lock, its target) plays a part.
        os.environ.setdefault("COURSE_BUILD_DIRS", str(scratch / "build-dirs"))
        # Kernels at once on a fresh machine waited on cargo's package-cache lock and failed: fill what they share
        # first, one build at a time.
        problems = warm_up(paths, ns.setup_timeout)
        for problem in problems:
            print(f"    {problem}", flush=True)
        if not problems and "CARGO_NET_OFFLINE" not in os.environ:
            # Every crate the kernels need is downloaded and the index cached: their cargo needs no network, and
            # resolves from the local cache (the versions the warm-up just chose), taking no download lock.
            os.environ["CARGO_NET_OFFLINE"] = "true"
        # evcxr's cache is not safe for kernels using it at once: each job gets its own copy of the warmed cache.
        slots = queue.Queue()
        for env in evcxr_cache_slots(ns.jobs, scratch):
            slots.put(env)

    def one(path: Path):
        env = slots.get()
        try:
            runner.KERNEL_ENV.overrides = env
            return run_notebook(
                path, ns.cell_timeout, ns.setup_timeout, mutation=not ns.no_mutation, rerun=ns.rerun,
                fresh_kernels=ns.fresh_kernels,
            )
        finally:
            slots.put(env)

    passed = failed = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=ns.jobs) as pool:
            for result in pool.map(one, paths):
                if report(result, ns, out_dir):
                    passed += 1
                else:
                    failed += 1
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def report(result, ns, out_dir) -> bool:
    """Prints a notebook's line (and its problems), writes its executed copy; returns whether it passed."""
    status = "PASS" if result.passed else "FAIL"
    mutation = ""
    if result.checks and result.mutation_ran:
        if not result.mutation_problems:
            wrong = f" and on {result.wrongs} wrong answers" if result.wrongs else ""
            mutation = f", {result.checks} checks fail on the stub{wrong}"
        if result.mutation_seconds:
            mutation += f" ({result.mutation_seconds:.1f} s)"
    print(
        f"{status} {result.path.name}: {result.seconds:.1f} s, {len(result.cells)} cells, {result.figures} figures{mutation}",
        flush=True,
    )
    for problem in result.problems + result.mutation_problems:
        print(f"    {problem}", flush=True)
    if out_dir is not None and hasattr(result, "executed"):
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(result.executed, out_dir / result.path.name)
    return result.passed


def cmd_hygiene(ns) -> int:
    problems = hygiene.check_all(notebook_paths(ns.notebooks))
    for p in problems:
        print(p)
    print(f"hygiene: {len(problems)} problems" if problems else "hygiene: ok")
    return 1 if problems else 0


def cmd_nav(ns) -> int:
    stale = navigation.update(NOTEBOOKS, check=ns.check)
    if ns.check and stale:
        for name in stale:
            print(f"stale navigation: {name} (run `make nav`)")
        return 1
    if not ns.check:
        print(f"navigation: {len(stale)} notebooks updated" if stale else "navigation: up to date")
    else:
        print("navigation: up to date")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nbtools")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks and judge every cell")
    run.add_argument("notebooks", nargs="*")
    run.add_argument("--cell-timeout", type=float, default=180, help="seconds per cell (default 180)")
    run.add_argument("--setup-timeout", type=float, default=900, help="seconds for setup cells and the first code cell (default 900)")
    run.add_argument("--no-mutation", action="store_true", help="skip the mutation check of exercises")
    run.add_argument("--rerun", action="store_true", help="run every cell a second time in the same kernel")
    run.add_argument(
        "--fresh-kernels", action="store_true",
        help="a fresh kernel for every mutation run (default: the main run's kernel, :clear before each run)",
    )
    run.add_argument("--jobs", "-j", type=int, default=1, help="notebooks run at once (default 1)")
    run.add_argument(
        "--no-warm-up", action="store_true",
        help="with --jobs > 1: skip building each distinct set of :dep lines once, serially, before the parallel runs",
    )
    run.add_argument("--executed-dir", help="write executed copies (with outputs) here")
    run.set_defaults(func=cmd_run)
    hyg = sub.add_parser("hygiene", help="check notebooks are committed clean")
    hyg.add_argument("notebooks", nargs="*")
    hyg.set_defaults(func=cmd_hygiene)
    nav = sub.add_parser("nav", help="generate navigation")
    nav.add_argument("--check", action="store_true")
    nav.set_defaults(func=cmd_nav)
    ns = parser.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
