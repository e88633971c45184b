"""tools/evcxr/kernel.py: each kernel gets a build folder of its own, kept for the next kernel (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[1] / "evcxr" / "kernel.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="build folders are kept on Linux only")


@pytest.fixture
def fake_evcxr(tmp_path: Path) -> Path:
    """Stands in for evcxr_jupyter: writes the folder it was given and its library path, then waits for a file."""
    script = tmp_path / "fake_evcxr"
    script.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n%s\\n" "${EVCXR_TMPDIR:-none}" "${LD_LIBRARY_PATH:-}" > "$1"\n'
        'while [ ! -e "$2" ]; do sleep 0.05; done\n'
    )
    script.chmod(0o755)
    return script


def start(fake: Path, tmp_path: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path, Path]:
    """Starts the launcher as Jupyter starts a kernel: in a session of its own, so its process group's id is its
    process id."""
    out, stop = tmp_path / f"{name}.out", tmp_path / f"{name}.stop"
    full = {k: v for k, v in os.environ.items() if k != "EVCXR_TMPDIR"} | env
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), str(fake), str(out), str(stop)], env=full, start_new_session=True
    )
    return proc, out, stop


def wait_for(path: Path, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().count("\n") >= 2):
        assert time.monotonic() < deadline, f"the fake kernel never wrote {path}"
        time.sleep(0.05)
    return path.read_text().splitlines()


def test_kernels_at_once_get_folders_of_their_own_and_the_next_kernel_reuses_a_free_one(fake_evcxr, tmp_path):
    env = {"COURSE_BUILD_DIRS": str(tmp_path / "dirs")}
    a, a_out, a_stop = start(fake_evcxr, tmp_path, "a", env)
    b, b_out, b_stop = start(fake_evcxr, tmp_path, "b", env)
    try:
        folders = {wait_for(a_out)[0], wait_for(b_out)[0]}
        assert folders == {str(tmp_path / "dirs" / "0"), str(tmp_path / "dirs" / "1")}
        a_stop.touch()
        a.wait(timeout=30)  # the kernel has exited: its folder is free again
        freed = a_out.read_text().splitlines()[0]
        c, c_out, c_stop = start(fake_evcxr, tmp_path, "c", env)
        try:
            assert wait_for(c_out)[0] == freed
        finally:
            c_stop.touch()
            c.wait(timeout=30)
    finally:
        a_stop.touch()
        b_stop.touch()
        a.wait(timeout=30)
        b.wait(timeout=30)


def test_the_kernel_finds_the_standard_library_of_its_toolchain(fake_evcxr, tmp_path):
    proc, out, stop = start(fake_evcxr, tmp_path, "k", {"COURSE_BUILD_DIRS": str(tmp_path / "dirs")})
    try:
        folder, libpath = wait_for(out)
    finally:
        stop.touch()
        proc.wait(timeout=30)
    assert folder == str(tmp_path / "dirs" / "0")
    libdir = libpath.split(os.pathsep)[0]
    assert list(Path(libdir).glob("libstd-*.so")), f"no libstd-*.so in {libdir}"


def test_off_leaves_evcxr_its_own_temporary_folder(fake_evcxr, tmp_path):
    proc, out, stop = start(fake_evcxr, tmp_path, "k", {"COURSE_BUILD_DIRS": "off"})
    try:
        assert wait_for(out)[0] == "none"
    finally:
        stop.touch()
        proc.wait(timeout=30)
    assert not (tmp_path / "dirs").exists()


def kernel_leaving(tmp_path: Path, name: str, command: str) -> tuple[Path, Path]:
    """A stand-in kernel that writes its folder, starts ``command`` in the background and exits at once."""
    pid_file = tmp_path / f"{name}.pid"
    kernel = tmp_path / name
    kernel.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n%s\\n" "${EVCXR_TMPDIR:-none}" "${LD_LIBRARY_PATH:-}" > "$1"\n'
        f'{command} & echo $! >> "{pid_file}"\n'
    )
    kernel.chmod(0o755)
    return kernel, pid_file


def stop_pid(pid_file: Path) -> None:
    for pid in pid_file.read_text().split() if pid_file.exists() else ():
        subprocess.run(["kill", pid], check=False)


def test_a_daemon_that_outlives_the_kernel_does_not_keep_its_folder(tmp_path):
    """sccache's server, started by a kernel's first C compile, stays up after the kernel, in a session of its own.
    It inherited the first launcher's lock file and kept the folder taken, so the next kernels built in new, empty
    folders."""
    kernel, daemon = kernel_leaving(tmp_path, "kernel_starting_a_daemon", "setsid sleep 60")
    env = {"COURSE_BUILD_DIRS": str(tmp_path / "dirs")}
    try:
        first, first_out, _ = start(kernel, tmp_path, "first", env)
        first.wait(timeout=30)
        time.sleep(0.2)
        assert daemon.exists() and Path(f"/proc/{daemon.read_text().split()[0]}").exists(), "no daemon left"
        second, second_out, _ = start(kernel, tmp_path, "second", env)
        second.wait(timeout=30)
        assert wait_for(second_out)[0] == wait_for(first_out)[0] == str(tmp_path / "dirs" / "0")
    finally:
        stop_pid(daemon)


def test_a_process_left_in_the_kernels_group_keeps_its_folder(tmp_path):
    """A cargo the kernel started, still building in the folder after the kernel has gone: the next kernel takes
    another folder until it has ended."""
    kernel, child = kernel_leaving(tmp_path, "kernel_leaving_a_child", "sleep 60")
    env = {"COURSE_BUILD_DIRS": str(tmp_path / "dirs")}
    try:
        first, first_out, _ = start(kernel, tmp_path, "first", env)
        first.wait(timeout=30)
        assert wait_for(first_out)[0] == str(tmp_path / "dirs" / "0")
        second, second_out, _ = start(kernel, tmp_path, "second", env)
        second.wait(timeout=30)
        assert wait_for(second_out)[0] == str(tmp_path / "dirs" / "1")
    finally:
        stop_pid(child)


def test_a_kernel_that_died_leaves_its_folder_free_even_if_its_process_id_is_used_again(tmp_path):
    dirs = tmp_path / "dirs"
    dirs.mkdir()
    # A living process that leads no process group, named with another start time: a process id used again.
    other = subprocess.Popen(["sleep", "30"])
    try:
        (dirs / "0.owner").write_text(f"{other.pid} 1\n")
        (dirs / "1.owner").write_text("not an owner file\n")
        found = subprocess.run(
            [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import kernel; "
             "print(kernel.take_folder(__import__('pathlib').Path(sys.argv[2])))", str(LAUNCHER.parent), str(dirs)],
            capture_output=True, text=True, timeout=30, check=True,
        )
    finally:
        other.kill()
        other.wait(timeout=30)
    assert found.stdout.strip() == str(dirs / "0")
