#!/usr/bin/env bash
# Opens JupyterLab on the course: loopback only, token authentication (printed in the URL below), at the index.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
# Our kernelspec (in .venv) wins over any other "rust" kernelspec on this machine.
export JUPYTER_PATH="$VENV/share/jupyter"
args=(--ip=127.0.0.1 --port="${PORT:-8888}" --ServerApp.root_dir="$ROOT/notebooks"
      --ServerApp.default_url=/lab/tree/00_index.ipynb "$ROOT/notebooks/00_index.ipynb")
if [ "$(id -u)" = 0 ]; then
  args+=(--allow-root)  # JupyterLab refuses to start as root without it
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname -s)" != Darwin ]; then
  args+=(--no-browser)  # no display: open the URL printed below in your browser
fi
echo "lab: starting JupyterLab on 127.0.0.1:${PORT:-8888} (Ctrl-C stops it). Open the URL with the token printed below;"
echo "     the course starts at /lab/tree/00_index.ipynb (same token)."
exec "$VENV/bin/jupyter" lab "${args[@]}"
