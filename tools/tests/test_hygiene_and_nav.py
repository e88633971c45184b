"""Notebook hygiene, generated navigation, and environment.yml in step with requirements.txt."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

from nbtools import hygiene, navigation
from nbtools.author import code, md, wrong, write_notebook

ROOT = Path(__file__).resolve().parents[2]


WRONGS = [wrong("// WRONG: returns two\nfn f() -> u8 { 2 }"), wrong("// WRONG: returns three\nfn f() -> u8 { 3 }")]


def lesson(tmp_path, name="01_x.ipynb", extra=(), wrongs=WRONGS):
    # The exercise shape: stub, check, "Stuck?", solution, wrong answers.
    return write_notebook(
        tmp_path / name,
        [md("# 01 · X"), md("", tags=["nav"]), code("fn f() -> u8 { 0 }", tags=["exercise"]),
         code("assert_eq!(f(), 1);", tags=["check"]), md("**Stuck?**", slide="skip"),
         code("fn f() -> u8 { 1 }", tags=["solution"]), *wrongs, *extra],
        minutes=10,
    )


def test_clean_lesson_passes(tmp_path):
    assert hygiene.check(lesson(tmp_path)) == []


def test_outputs_and_counts_are_caught(tmp_path):
    path = lesson(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    nb.cells[2].execution_count = 3
    nbformat.write(nb, path)
    found = "\n".join(hygiene.check(path))
    assert "outputs" in found and "execution count" in found
    assert hygiene.strip_outputs(path)
    assert hygiene.check(path) == []


def test_wrong_kernel_unknown_tag_and_missing_exercise_are_caught(tmp_path):
    path = write_notebook(tmp_path / "02_y.ipynb", [md("# y"), code("1", tags=["sollution"])])
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python"}
    nbformat.write(nb, path)
    found = "\n".join(hygiene.check(path))
    assert "kernelspec" in found and "unknown tags" in found and "no exercise" in found


def test_fewer_than_two_wrong_answers_is_caught(tmp_path):
    found = "\n".join(hygiene.check(lesson(tmp_path, wrongs=WRONGS[:1])))
    assert "exercise at cell 2: 1 wrong answers, at least 2 wanted" in found


def test_wrong_answer_must_be_raw_tagged_and_say_what_is_wrong(tmp_path):
    as_code = code("// WRONG: a code cell\nfn f() -> u8 { 4 }", tags=["wrong"])
    unsaid = wrong("fn f() -> u8 { 5 }")
    path = lesson(tmp_path, wrongs=[*WRONGS, as_code, unsaid])
    found = "\n".join(hygiene.check(path))
    assert "cell 8: a wrong answer must be a raw cell" in found
    assert "cell 9: a wrong answer's first line must say what is wrong" in found
    # A raw cell that says WRONG but has no tag is not a wrong answer: the exercise has too few.
    untagged = nbformat.v4.new_raw_cell("// WRONG: no tag\nfn f() -> u8 { 6 }", metadata={"slideshow": {"slide_type": "skip"}})
    found = "\n".join(hygiene.check(lesson(tmp_path, "02_y.ipynb", wrongs=[WRONGS[0], untagged])))
    assert "1 wrong answers, at least 2 wanted" in found
    # On a slide or with its source shown, it would give a wrong answer away.
    shown = wrong("// WRONG: shown\nfn f() -> u8 { 7 }")
    shown.metadata["slideshow"]["slide_type"] = "-"
    del shown.metadata["jupyter"]
    found = "\n".join(hygiene.check(lesson(tmp_path, "03_z.ipynb", wrongs=[*WRONGS, shown])))
    assert "cell 8: a wrong answer must have slide type skip" in found and "cell 8: a wrong answer must have its source collapsed" in found


def test_solution_before_its_check_is_caught(tmp_path):
    path = write_notebook(
        tmp_path / "01_x.ipynb",
        [md("# 01 · X"), code("fn f() -> u8 { 0 }", tags=["exercise"]), code("fn f() -> u8 { 1 }", tags=["solution"]),
         code("assert_eq!(f(), 1);", tags=["check"]), *WRONGS],
    )
    found = "\n".join(hygiene.check(path))
    assert "solution cell 2 stands before check cell 3" in found


def test_wrong_answer_without_an_exercise_is_caught(tmp_path):
    path = write_notebook(tmp_path / "01_x.ipynb", [md("# 01 · X"), WRONGS[0]])
    assert "cell 1: a wrong answer with no exercise stub" in "\n".join(hygiene.check(path))


def test_not_json_is_caught(tmp_path):
    path = tmp_path / "03_z.ipynb"
    path.write_text("{not json")
    assert "not a readable notebook" in hygiene.check(path)[0]


def test_navigation_is_generated_and_checked(tmp_path):
    lesson(tmp_path, "01_gil_and_true_parallelism.ipynb")
    lesson(tmp_path, "02_basic_threading.ipynb")
    write_notebook(tmp_path / "00_index.ipynb", [md("# Index"), md("", tags=["toc"])])
    assert set(navigation.update(tmp_path, check=True)) == {
        "01_gil_and_true_parallelism.ipynb", "02_basic_threading.ipynb", "00_index.ipynb"}
    navigation.update(tmp_path)
    assert navigation.update(tmp_path, check=True) == []
    nav = nbformat.read(tmp_path / "01_gil_and_true_parallelism.ipynb", as_version=4).cells[1].source
    assert "[Course index](00_index.ipynb)" in nav and "02_basic_threading.ipynb" in nav
    toc = nbformat.read(tmp_path / "00_index.ipynb", as_version=4).cells[1].source
    assert "[X](01_gil_and_true_parallelism.ipynb)" in toc and "*(planned)*" in toc


def test_committed_notebooks_are_clean_and_navigation_current():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "the course has notebooks"
    assert hygiene.check_all(notebooks) == []
    assert navigation.update(ROOT / "notebooks", check=True) == []


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_names_the_pinned_packages():
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pinned[normalise(name)] = version
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    named = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            m = re.match(r"([A-Za-z0-9_.\-]+)\s*=?=\s*([0-9][^\s]*)", item)
            if m and normalise(m.group(1)) != "python":
                named[normalise(m.group(1))] = m.group(2)
    assert named == pinned
