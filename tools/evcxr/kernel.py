"""Starts evcxr_jupyter in a build folder that outlives the kernel (the kernelspec's ``argv``, written by
tools/setup.sh; issue 19, docs/latency.md).

Without this, each evcxr kernel builds in a new temporary folder: cargo finds no fingerprints there, runs every
build script again and compiles ``support`` (a path dependency, which evcxr's ``:cache`` never serves) in every new
kernel — about 4 s of lesson 02's first 8.5 s (docs/latency.md). With a folder kept from an earlier kernel
(``EVCXR_TMPDIR``, read by evcxr 0.22's ``get_tmp_dir``), cargo finds everything fresh and only the cell itself is
compiled. Cargo's fingerprints decide what is stale: an edit to ``support/`` rebuilds ``support``, as in any cargo
project.

The cell libraries evcxr builds there need one more setting: they find the standard library's shared object
through a relative rpath that rustc computes for ``target/<host>/debug/deps/``, while evcxr loads a copy one folder
up. From evcxr's usual ``/tmp/.tmpXXXX`` the extra ``..`` stops at ``/`` and the path still works; from a folder
that shares an ancestor with the toolchain (``~/.cache`` and ``~/.rustup``) it misses, and the kernel dies with
"dlopen failed" (``libstd-….so: cannot open shared object file``). So the kernel gets the toolchain's library folder
(``rustc --print target-libdir``) in ``LD_LIBRARY_PATH``.

One evcxr at a time may use a folder (the evcxr maintainer on evcxr issue #304), so the folders are numbered and a
kernel takes the first one no living kernel owns. ``<n>.owner`` names the owner: its process id and start time (the
22nd field of ``/proc/<pid>/stat``, so a process id used again later does not count as the same process). The
launcher ``exec``s evcxr_jupyter, which keeps the launcher's process id, so the owner is the kernel itself. The
folder is free again when the kernel has exited, however it ended, and no process is left in its process group
(Jupyter starts each kernel in a session of its own, jupyter_client's ``launcher.py``): a cargo it started, still
building there, keeps the folder. A folder is chosen and its owner written under ``select.lock``, held for
milliseconds and closed at the ``exec``, so two kernels starting at once never take the same folder.

Why not hold a lock for the kernel's life instead: an open lock file is inherited by every process the kernel
starts, and one of them outlives it. The first C compile through sccache starts sccache's server, which stays up
after the kernel until it has been idle for ``SCCACHE_IDLE_TIMEOUT`` seconds, holding whatever the kernel held (seen
with ``fuser`` on 2026-12-05): the folder stayed taken, and the next kernels built in other folders, new and empty
at first (docs/latency.md). sccache's server starts a session of its own (seen with ``ps -o pgid,sid``), so the
process-group check does not keep the folder for it.

A folder is never moved (its libraries have relative rpaths, evcxr issue #243).

Linux only (elsewhere evcxr keeps its own temporary folders). Where: ``$COURSE_BUILD_DIRS`` when set, else
``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/evcxr-course/<repo>-<hash>``. Not inside the repository: cargo would find
the repository's workspace above the kernel's crate and refuse to build it ("current package believes it's in a
workspace when it's not").
``COURSE_BUILD_DIRS=off`` (or an ``EVCXR_TMPDIR`` already set) leaves evcxr to itself, as before — `make latency`
uses it to measure both. Delete the folder to get the disk space back (each is a cargo target folder: 488 MB once it
had built every lesson's dependencies, measured).

Usage (the kernelspec): python tools/evcxr/kernel.py <evcxr_jupyter> --control_file {connection_file}
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_FOLDERS = 32  # more kernels at once than this: the rest use evcxr's own temporary folders
SELECT_PATIENCE = 10.0  # seconds to wait for another launcher's choice (milliseconds, normally) before giving up


def build_dirs() -> Path | None:
    chosen = os.environ.get("COURSE_BUILD_DIRS", "")
    if chosen == "off" or os.environ.get("EVCXR_TMPDIR"):
        return None
    if chosen:
        return Path(chosen)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:8]
    return cache / "evcxr-course" / f"{REPO.name}-{tag}"


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` from the 3rd on (after the command name), or None if there is no such
    process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot, the 22nd field), or None if there is no such process."""
    fields = stat_fields(pid)
    return fields[19] if fields else None


def living_groups() -> set[int]:
    """The process groups (the 5th field) that have a process now."""
    groups = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := stat_fields(entry.name)):
            groups.add(int(fields[2]))
    return groups


def owner_alive(owner: Path, groups: set[int]) -> bool:
    """The kernel that wrote ``owner`` is alive, or a process it started in its process group is (Jupyter starts
    each kernel in a session of its own, so the group's id is the kernel's process id): a cargo or rustc still
    writing into the folder. A daemon that left the group (sccache's server starts a session of its own) does not
    count."""
    try:
        pid, start = owner.read_text().split()
        return process_start(int(pid)) == start or int(pid) in groups
    except (OSError, ValueError):  # no owner file, or not one this launcher wrote
        return False


def take_folder(root: Path) -> Path | None:
    """Returns the first numbered folder under root that no living kernel owns, owned by this process from now on;
    None when all are taken or another launcher holds the choice for longer than SELECT_PATIENCE."""
    started = process_start(os.getpid())
    if started is None:  # no /proc to tell living owners from dead ones: share no folder
        return None
    root.mkdir(parents=True, exist_ok=True)
    me = f"{os.getpid()} {started}\n"
    with open(root / "select.lock", "a") as guard:  # not inheritable (Python's default): closed by the exec
        deadline = time.monotonic() + SELECT_PATIENCE
        while True:
            try:
                fcntl.flock(guard.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.02)
        groups = living_groups()
        for n in range(MAX_FOLDERS):
            owner = root / f"{n}.owner"
            if owner_alive(owner, groups):
                continue
            owner.write_text(me)
            folder = root / str(n)
            folder.mkdir(exist_ok=True)
            return folder
    return None


def std_library_dir(cwd: Path) -> str | None:
    """The folder with the default toolchain's ``libstd-….so``, as evcxr's rustc would link against it."""
    try:
        found = subprocess.run(
            ["rustc", "--print", "target-libdir"], cwd=cwd, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    folder = found.stdout.strip()
    return folder if found.returncode == 0 and Path(folder).is_dir() else None


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: kernel.py <evcxr_jupyter> [its arguments…]")
    evcxr, args = argv[1], argv[2:]
    root = build_dirs() if sys.platform.startswith("linux") else None
    folder = None
    if root is not None:
        try:
            folder = take_folder(root)
            if folder is None:
                print(f"kernel.py: every build folder under {root} is in use; using a temporary one", file=sys.stderr)
        except OSError as error:  # no folder to be had (read-only cache, full disk): evcxr's own temporary one
            print(f"kernel.py: no build folder under {root} ({error}); using a temporary one", file=sys.stderr)
    libdir = std_library_dir(folder) if folder is not None else None
    if folder is not None and libdir is None:
        print("kernel.py: `rustc --print target-libdir` failed; using a temporary build folder", file=sys.stderr)
    if folder is not None and libdir is not None:
        os.environ["EVCXR_TMPDIR"] = str(folder)
        old = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([libdir, *old])
    os.execv(evcxr, [evcxr, *args])


if __name__ == "__main__":
    main(sys.argv)
