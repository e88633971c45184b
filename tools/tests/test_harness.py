"""The harness must catch what `jupyter nbconvert --execute` lets through. These run a real evcxr kernel on small
notebooks made here (std only, so each takes a few seconds)."""

from __future__ import annotations

import time

import pytest

from nbtools.author import code, md, write_notebook
from nbtools.runner import run_notebook

SLEEP_THEN_PANIC = (
    "std::thread::spawn(|| { std::thread::sleep(std::time::Duration::from_millis(1500)); panic!(\"late boom\"); });"
)


def run(tmp_path, cells, **kw):
    path = write_notebook(tmp_path / "t.ipynb", [md("# t"), *cells])
    kw.setdefault("cell_timeout", 60)
    kw.setdefault("setup_timeout", 120)
    return run_notebook(path, **kw)


def problems(result):
    return "\n".join(result.problems + result.mutation_problems)


def test_clean_notebook_passes_and_counts_cells(tmp_path):
    r = run(tmp_path, [code('println!("hello from {:?}", std::thread::current().id());'), code("let x = 2; x * 21")])
    assert r.passed, problems(r)
    assert len(r.cells) == 2
    assert "hello from" in r.cells[0].text("stdout")


def test_cell_showing_unit_fails(tmp_path):
    r = run(tmp_path, [code('{ println!("hi"); }'), code('{ println!("ok"); };')], mutation=False)
    assert not r.passed
    assert "cell 1: shows `()`" in problems(r)
    assert "cell 2" not in problems(r)


def test_panicking_cell_fails(tmp_path):
    r = run(tmp_path, [code('panic!("boom");'), code("1")])
    assert not r.passed
    assert "cell 1: panic" in problems(r) and "boom" in problems(r)


def test_failing_assert_fails(tmp_path):
    r = run(tmp_path, [code("assert_eq!(1 + 1, 3);")])
    assert not r.passed
    assert "assertion" in problems(r)


def test_compile_error_fails(tmp_path):
    r = run(tmp_path, [code('let x: i32 = "not a number";')])
    assert not r.passed
    assert "mismatched types" in problems(r)


def test_hanging_cell_times_out_and_kernel_is_killed(tmp_path):
    start = time.monotonic()
    r = run(tmp_path, [code("std::thread::sleep(std::time::Duration::from_secs(600));"), code("1")], cell_timeout=6, setup_timeout=6)
    assert time.monotonic() - start < 60
    assert not r.passed
    assert "timed out" in problems(r)
    assert len(r.cells) == 1, "cells after a timeout are not run"


def test_raises_exception_cell_must_fail(tmp_path):
    r = run(tmp_path, [code("let ok = 1;", tags=["raises-exception"])])
    assert not r.passed
    assert "tagged raises-exception but did not fail" in problems(r)


def test_raises_exception_cell_that_fails_is_fine(tmp_path):
    r = run(tmp_path, [code('let x: i32 = "a";', tags=["raises-exception"]), code("1")])
    assert r.passed, problems(r)


def test_panic_spilling_from_a_raises_exception_cell_is_not_the_next_cells_failure(tmp_path):
    spill = 'std::thread::spawn(|| { std::thread::sleep(std::time::Duration::from_millis(300)); panic!("spill"); }); panic!("now");'
    r = run(tmp_path, [code(spill, tags=["raises-exception"]), code('println!("next");')])
    assert r.passed, problems(r)


def test_late_panic_after_last_cell_fails(tmp_path):
    r = run(tmp_path, [code(SLEEP_THEN_PANIC)])
    assert not r.passed
    assert "late boom" in problems(r)


def test_late_panic_during_a_later_cell_fails(tmp_path):
    r = run(tmp_path, [code(SLEEP_THEN_PANIC), code("std::thread::sleep(std::time::Duration::from_millis(2500));")])
    assert not r.passed
    assert "late boom" in problems(r)


def test_expect_panic_requires_panic_text(tmp_path):
    ok = 'let h = std::thread::spawn(|| panic!("handled")); assert!(h.join().is_err());'
    r = run(tmp_path, [code(ok, tags=["expect-panic"]), code("2")])
    assert r.passed, problems(r)
    r = run(tmp_path, [code("let x = 1;", tags=["expect-panic"])])
    assert "printed no panic" in problems(r)


EXERCISE = [
    code("fn add(a: u32, b: u32) -> u32 { 0 }", tags=["exercise"]),
    code("fn add(a: u32, b: u32) -> u32 { a + b }", tags=["solution"]),
]


def test_check_that_fails_without_solution_passes(tmp_path):
    r = run(tmp_path, [code("use std::thread;", tags=["setup"]), *EXERCISE, code("assert_eq!(add(2, 3), 5);", tags=["check"])])
    assert r.passed, problems(r)
    assert r.checks == 1


def test_check_that_passes_without_its_solution_is_caught(tmp_path):
    r = run(tmp_path, [code("use std::thread;", tags=["setup"]), *EXERCISE, code("assert!(add(2, 3) >= 0);", tags=["check"])])
    assert not r.passed
    assert "passes with the stub" in problems(r)


def test_check_that_only_compiles_with_the_solution_is_caught(tmp_path):
    cells = [code("fn mul(a: u32, b: u32) -> u32 { a * b }", tags=["solution"]), code("assert_eq!(mul(2, 3), 6);", tags=["check"])]
    r = run(tmp_path, cells)
    assert not r.passed
    assert "without an exercise stub" in problems(r)


def test_bad_kernel_name_is_a_clear_failure(tmp_path):
    path = write_notebook(tmp_path / "k.ipynb", [code("1")])
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"]["name"] = "no-such-kernel"
    nbformat.write(nb, path)
    r = run_notebook(path, cell_timeout=30, setup_timeout=30)
    assert not r.passed
    assert "kernel" in problems(r)


@pytest.mark.parametrize("tag", ["check"])
def test_figures_are_counted(tmp_path, tag):
    svg = 'println!("EVCXR_BEGIN_CONTENT image/svg+xml\\n<svg xmlns=\\"http://www.w3.org/2000/svg\\"></svg>\\nEVCXR_END_CONTENT");'
    r = run(tmp_path, [code(svg)])
    assert r.passed, problems(r)
    assert r.figures == 1


def test_rerun_in_the_same_kernel_catches_a_cell_that_works_only_once(tmp_path):
    # The kernel's working directory is the notebook's folder: the file lands in tmp_path.
    cells = [code("let name = \"marker.txt\";"), code('std::fs::File::create_new(name).expect("created twice");')]
    once = run(tmp_path, cells, mutation=False)
    assert once.passed, problems(once)
    (tmp_path / "marker.txt").unlink()
    twice = run(tmp_path, cells, mutation=False, rerun=True)
    assert not twice.passed
    assert "re-run in the same kernel: cell 2: panic" in problems(twice), problems(twice)
    assert len(twice.cells) == 2, "the executed copy keeps the first pass"


def test_dep_lines_name_each_dependency_once_whatever_the_spacing():
    # The harness lets only one kernel at a time build a `:dep` line for the first time (concurrent first builds
    # failed on a fresh machine); a line is known by its words, not its spacing.
    from nbtools.runner import dep_lines

    source = ':dep support = { path = "../support" }\n  :dep  rayon = "1"\nuse std::thread;\n// :dep not-a-dep\n'
    assert dep_lines(source) == {':dep support = { path = "../support" }', ':dep rayon = "1"'}
    assert dep_lines("let x = 1;") == set()
