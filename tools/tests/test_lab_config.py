"""tools/lab_config.py: the settings `make lab` writes into .venv (no news question, no update check), checked
against the installed JupyterLab's schema; tools/lab.sh's default URL is the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import lab_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / ".venv/share/jupyter/lab/schemas/@jupyterlab/apputils-extension/notification.json"


RISE_SCHEMA = ROOT / ".venv/share/jupyter/labextensions/jupyterlab-rise/schemas/jupyterlab-rise/plugin.json"


def fake_venv(tmp_path: Path, schema: dict | None = None) -> Path:
    venv = tmp_path / "venv"
    target = venv / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension/notification.json"
    target.parent.mkdir(parents=True)
    if schema is None:
        shutil.copy(SCHEMA, target)
    else:
        target.write_text(json.dumps(schema))
    rise = venv / "share/jupyter/labextensions/jupyterlab-rise/schemas/jupyterlab-rise/plugin.json"
    rise.parent.mkdir(parents=True)
    rise.write_text(json.dumps({"properties": {"theme": {"enum": ["white", "simple"]}}}))
    return venv


@pytest.mark.skipif(not SCHEMA.is_file(), reason="JupyterLab is not installed in .venv (make setup)")
def test_writes_overrides_and_server_config_and_keeps_other_settings(tmp_path):
    venv = fake_venv(tmp_path)
    overrides = venv / "share/jupyter/lab/settings/overrides.json"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}))
    changed = lab_config.configure(venv)
    assert len(changed) == 2
    data = json.loads(overrides.read_text())
    assert data["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    assert data["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert data["jupyterlab-rise:plugin"] == {"theme": "white"}  # "simple" loads Google's fonts
    server = json.loads((venv / "etc/jupyter/jupyter_server_config.d" / lab_config.SERVER_CONFIG_NAME).read_text())
    assert server["LabApp"]["news_url"] is None
    assert lab_config.configure(venv) == []  # idempotent


def test_a_renamed_setting_fails_loudly(tmp_path):
    schema = {"properties": {"fetchNews": {"type": "string", "oneOf": [{"const": "true"}, {"const": "false"}]}}}
    with pytest.raises(SystemExit, match="checkForUpdates"):
        lab_config.configure(fake_venv(tmp_path, schema))
    schema["properties"]["checkForUpdates"] = {"type": "boolean"}
    schema["properties"]["fetchNews"]["oneOf"] = [{"const": "always"}, {"const": "never"}]
    with pytest.raises(SystemExit, match="fetchNews"):
        lab_config.configure(fake_venv(tmp_path / "b", schema))


def test_lab_sh_lands_on_the_index():
    text = (ROOT / "tools/lab.sh").read_text()
    # ServerApp.default_url is overridden by JupyterLab's own (/lab): LabApp's is the one printed and opened.
    assert "--LabApp.default_url=/lab/tree/00_index.ipynb" in text
    assert "lab_config.py" in text
    assert (ROOT / "notebooks/00_index.ipynb").is_file()


@pytest.mark.skipif(not RISE_SCHEMA.is_file(), reason="jupyterlab-rise is not installed in .venv (make setup)")
def test_the_real_schemas_accept_the_settings():
    lab_config.check_against_schema(ROOT / ".venv/share/jupyter/lab")  # raises SystemExit when not
