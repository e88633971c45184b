#!/usr/bin/env bash
# Opens JupyterLab on the course: loopback only, token authentication, landing on the index
# (/lab/tree/00_index.ipynb?token=…). With a display the browser opens that URL; without one, open the URL that
# JupyterLab prints below. No news popup and no update prompt: tools/lab_config.py writes those settings into .venv.
#
#   tools/lab.sh [extra jupyter lab options]   (`make lab`; PORT=8888 by default; LAB_ROOT=the folder served,
#                                               notebooks/ by default — the browser test serves a copy)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
LAB_ROOT=${LAB_ROOT:-$ROOT/notebooks}
# Our kernelspec (in .venv) wins over any other "rust" kernelspec on this machine.
export JUPYTER_PATH="$VENV/share/jupyter"
"$VENV/bin/python" "$ROOT/tools/lab_config.py" "$VENV"
# LabApp.default_url (not ServerApp's, which JupyterLab overrides with /lab) is both the URL printed with the token
# and the page the browser opens.
args=(--ip=127.0.0.1 --port="${PORT:-8888}" --ServerApp.root_dir="$LAB_ROOT"
      --LabApp.default_url=/lab/tree/00_index.ipynb)
if [ "$(id -u)" = 0 ]; then
  args+=(--allow-root)  # JupyterLab refuses to start as root without it
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname -s)" != Darwin ]; then
  args+=(--no-browser)  # no display: open the URL printed below in your browser
fi
echo "lab: starting JupyterLab on 127.0.0.1:${PORT:-8888} (Ctrl-C stops it). The course opens at the URL printed"
echo "     below, http://127.0.0.1:${PORT:-8888}/lab/tree/00_index.ipynb?token=… (the token is part of it)."
exec "$VENV/bin/jupyter" lab "${args[@]}" "$@"
