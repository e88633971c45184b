"""The harness must catch what `jupyter nbconvert --execute` lets through. These run a real evcxr kernel on small
notebooks made here (std only, so each takes a few seconds)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbtools.author import code, md, wrong, write_notebook
from nbtools.runner import main_run_cells, mutation_runs, run_notebook

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


STUB = code("fn add(a: u32, b: u32) -> u32 { 0 }", tags=["exercise"])
SOLUTION = code("fn add(a: u32, b: u32) -> u32 { a + b }", tags=["solution"])
CHECK = code("assert_eq!(add(2, 3), 5);", tags=["check"])
SUBTRACTS = wrong("// WRONG: subtracts\nfn add(a: u32, b: u32) -> u32 { a.wrapping_sub(b) }")
MULTIPLIES = wrong("// WRONG: multiplies\nfn add(a: u32, b: u32) -> u32 { a * b }")


def exercise(check=CHECK, wrongs=(SUBTRACTS, MULTIPLIES), setup="use std::thread;"):
    """The lesson shape: setup, stub, check, "Stuck?", solution (after the check), wrong answers (raw cells)."""
    return [code(setup, tags=["setup"]), STUB, check, md("**Stuck?**", slide="skip"), SOLUTION, *wrongs]


def test_check_that_fails_on_the_stub_and_the_wrong_answers_passes(tmp_path):
    # The solution stands after the check in the notebook (Run All judges the learner's stub); the main run runs it
    # right after the stub, so the check passes there; every mutation run fails at run time.
    r = run(tmp_path, exercise())
    assert r.passed, problems(r)
    assert (r.checks, r.wrongs, r.mutation_ran) == (1, 2, True)
    check = [c for c in r.cells if "check" in c.tags][0]
    assert not check.failed and [c.index for c in r.cells] == [1, 2, 5, 3]  # setup, stub, solution, check
    assert r.mutation_kernels == 0, "the mutation runs share the main run's kernel (:clear between them)"


def test_main_run_order_and_mutation_runs():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [md("# t"), *exercise(), code("let after = 1;")]
    assert main_run_cells(nb) == [1, 2, 5, 3, 8]
    assert mutation_runs(nb) == [
        ("the stub", [1, 2, 3], [3]),
        ("wrong answer (cell 6)", [1, 2, 6, 3], [3]),
        ("wrong answer (cell 7)", [1, 2, 7, 3], [3]),
    ]


def test_check_that_passes_without_its_solution_is_caught(tmp_path):
    r = run(tmp_path, exercise(check=code("assert!(add(2, 3) >= 0);", tags=["check"])))
    assert not r.passed
    assert "passes with the stub" in problems(r)


# The stub sets an environment variable of the process that runs the code when it is called (by the check); this
# "wrong" answer is right unless it sees that variable. Each mutation run must start in a new process: then the
# check passes on it, and the harness must say so. Were the stub run's state still there, the check would fail on
# it and the harness would wrongly count the wrong answer as caught.
LEAKY_STUB = code('fn add(a: u32, b: u32) -> u32 { unsafe { std::env::set_var("NBTOOLS_LEAK", "1") }; 0 }', tags=["exercise"])
RIGHT_UNLESS_LEAKED = wrong(
    "// WRONG: right after all, unless state leaked from an earlier run\n"
    'fn add(a: u32, b: u32) -> u32 { assert!(std::env::var("NBTOOLS_LEAK").is_err(), "state leaked"); a + b }'
)


@pytest.mark.parametrize("fresh_kernels", [False, True])
def test_wrong_answer_that_passes_the_check_is_caught_and_runs_share_no_state(tmp_path, fresh_kernels):
    cells = exercise(wrongs=(SUBTRACTS, RIGHT_UNLESS_LEAKED))
    cells[1] = LEAKY_STUB
    r = run(tmp_path, cells, fresh_kernels=fresh_kernels)
    assert not r.passed
    found = problems(r)
    assert "cell 3: check passes with wrong answer (cell 7)" in found, found
    assert "cell 6" not in found and "stub" not in found, found  # the stub and the other wrong answer are caught
    assert r.mutation_kernels == (3 if fresh_kernels else 0)


def test_wrong_answer_that_does_not_compile_is_reported(tmp_path):
    typo = wrong('// WRONG: does not compile\nfn add(a: u32, b: u32) -> u32 { a + "b" }')
    r = run(tmp_path, exercise(wrongs=(SUBTRACTS, typo)))
    assert not r.passed
    found = problems(r)
    assert "cell 7: the wrong answer fails by itself" in found and "must compile and fail the check at run time" in found
    assert "cell 6" not in found


def test_check_that_hangs_on_a_wrong_answer_is_reported_and_the_next_run_gets_a_fresh_kernel(tmp_path):
    forever = wrong("// WRONG: never returns\nfn add(a: u32, b: u32) -> u32 { loop { std::thread::sleep(std::time::Duration::from_millis(50)); } }")
    r = run(tmp_path, exercise(wrongs=(forever, SUBTRACTS)), cell_timeout=15)
    assert not r.passed
    found = problems(r)
    assert "cell 3: with wrong answer (cell 6) the check hangs" in found, found
    assert "cell 7" not in found, found  # judged in a fresh kernel, where it fails as it should
    assert r.mutation_kernels == 1


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


def test_dependency_sets_name_each_set_of_dep_lines_once(tmp_path):
    # The warm-up before parallel runs builds each distinct set once, in one kernel, one set after another.
    from nbtools.runner import dependency_sets

    support = ':dep support = { path = "../support" }'
    write_notebook(tmp_path / "a.ipynb", [code(support + "\nuse std::thread;"), code(':dep rayon = "1"')])
    write_notebook(tmp_path / "b.ipynb", [code(':dep  rayon = "1"\n' + support)])  # same set, other order and spacing
    write_notebook(tmp_path / "c.ipynb", [code(support)])
    write_notebook(tmp_path / "d.ipynb", [code("let no_deps = 1;")])
    sets = dependency_sets(sorted(tmp_path.glob("*.ipynb")))
    assert [(lines, names) for _, lines, names in sets] == [
        ([support, ':dep rayon = "1"'], ["a.ipynb", "b.ipynb"]),
        ([support], ["c.ipynb"]),
    ]
    assert all(folder == tmp_path.resolve() for folder, _, _ in sets)


def test_each_parallel_job_gets_its_own_copy_of_evcxrs_cache(tmp_path, monkeypatch):
    # evcxr's cache is not safe for kernels using it at once (a hit rewrites the entry's `hits` file): the harness
    # gives each job a copy, as the XDG_CACHE_HOME of the kernels it starts.
    from nbtools.runner import evcxr_cache_dir, evcxr_cache_slots

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entry = evcxr_cache_dir() / "123"
    entry.mkdir(parents=True)
    (entry / "hits").write_text("4")
    slots = evcxr_cache_slots(2, tmp_path / "slots")
    homes = [Path(s["XDG_CACHE_HOME"]) for s in slots]
    assert len(set(homes)) == 2
    for home in homes:
        copy = home / "evcxr" / "123" / "hits"
        assert copy.read_text() == "4" and copy.stat().st_ino != (entry / "hits").stat().st_ino  # a copy, no link
