"""Notebook hygiene, generated navigation, and environment.yml in step with requirements.txt."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

from nbtools import hygiene, navigation
from nbtools.author import code, md, write_notebook

ROOT = Path(__file__).resolve().parents[2]


def lesson(tmp_path, name="01_x.ipynb", extra=()):
    return write_notebook(
        tmp_path / name,
        [md("# 01 · X"), md("", tags=["nav"]), code("fn f() -> u8 { 0 }", tags=["exercise"]),
         code("fn f() -> u8 { 1 }", tags=["solution"]), code("assert_eq!(f(), 1);", tags=["check"]), *extra],
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
