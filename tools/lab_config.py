"""Writes the course's JupyterLab settings into .venv, so every JupyterLab started from .venv (``make lab``, the
browser test, ``.venv/bin/jupyter lab`` by hand) opens quietly:

- ``.venv/share/jupyter/lab/settings/overrides.json`` (JupyterLab's application-wide setting defaults):
  ``@jupyterlab/apputils-extension:notification`` → ``fetchNews: "false"`` (no "Would you like to get notified
  about official Jupyter news?" question) and ``checkForUpdates: false`` (no update prompt); RISE's slideshow
  theme ``white`` (its default loads fonts from Google). A learner can still change them in Settings; what they
  choose there wins.
- ``.venv/etc/jupyter/jupyter_server_config.d/course-quiet-lab.json``: the server fetches no news feed
  (``LabApp.news_url = None``) and asks PyPI for no update (``jupyterlab.NeverCheckForUpdate``).

    python tools/lab_config.py [VENV]     (called by tools/lab.sh; idempotent)

The keys and values are checked against the schema of the JupyterLab installed in .venv, so an upgrade that
renames them fails here instead of silently bringing the popup back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOTIFICATION = "@jupyterlab/apputils-extension:notification"
RISE = "jupyterlab-rise:plugin"
OVERRIDES = {
    NOTIFICATION: {"fetchNews": "false", "checkForUpdates": False},
    # RISE's default theme ("simple") loads its fonts from fonts.googleapis.com; reveal.js's "white" has them
    # locally (and is the theme of `make slides`' decks).
    RISE: {"theme": "white"},
}
SERVER_CONFIG = {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}
SERVER_CONFIG_NAME = "course-quiet-lab.json"


def schema_of(plugin_id: str, lab_dir: Path) -> Path:
    """A plugin's settings schema: JupyterLab's own in lab/schemas, an extension's in labextensions/<pkg>/schemas."""
    package, plugin = plugin_id.split(":")
    for base in (lab_dir / "schemas", lab_dir.parent / "labextensions" / package / "schemas"):
        if (base / package / f"{plugin}.json").is_file():
            return base / package / f"{plugin}.json"
    raise SystemExit(f"lab_config: no settings schema for {plugin_id} under {lab_dir.parent} — is it installed in .venv (make setup)?")


def check_against_schema(lab_dir: Path) -> None:
    for plugin_id, values in OVERRIDES.items():
        schema_path = schema_of(plugin_id, lab_dir)
        props = json.loads(schema_path.read_text())["properties"]
        for key, value in values.items():
            if key not in props:
                raise SystemExit(f"lab_config: {plugin_id} has no setting {key!r} ({schema_path})")
            spec = props[key]
            allowed = [c["const"] for c in spec.get("oneOf", []) if "const" in c] or spec.get("enum", [])
            if allowed and value not in allowed:
                raise SystemExit(f"lab_config: {plugin_id}.{key} = {value!r} is not one of {allowed} ({schema_path})")
            if spec.get("type") == "boolean" and not isinstance(value, bool):
                raise SystemExit(f"lab_config: {plugin_id}.{key} must be a boolean ({schema_path})")


def write_json_if_changed(path: Path, data: dict) -> bool:
    text = json.dumps(data, indent=2) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def configure(venv: Path) -> list[Path]:
    """Writes (or updates) both files; returns the ones that changed."""
    lab_dir = venv / "share" / "jupyter" / "lab"
    check_against_schema(lab_dir)
    changed = []
    overrides_path = lab_dir / "settings" / "overrides.json"
    overrides = json.loads(overrides_path.read_text()) if overrides_path.is_file() else {}
    for plugin, values in OVERRIDES.items():
        overrides.setdefault(plugin, {}).update(values)  # other settings in the file are kept
    if write_json_if_changed(overrides_path, overrides):
        changed.append(overrides_path)
    server_path = venv / "etc" / "jupyter" / "jupyter_server_config.d" / SERVER_CONFIG_NAME
    if write_json_if_changed(server_path, SERVER_CONFIG):
        changed.append(server_path)
    return changed


if __name__ == "__main__":
    venv = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".venv"
    for p in configure(venv):
        print(f"lab: wrote {p} (no news popup, no update check)")
