#!/usr/bin/env bash
# Sets up everything the course needs, idempotently: a .venv with the pinned Python tooling, evcxr_jupyter at the
# pinned version, and the Rust kernelspec installed into .venv (not into your global Jupyter folders).
# Called by `make setup` (and so by `make lab` and `make test`).
set -euo pipefail

EVCXR_VERSION=0.22.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
cd "$ROOT"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 not found — $2" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs (the course needs cargo and rustc)"
need python3 "install Python 3.9 or newer (with the venv module)"

# Python tooling, pinned in requirements.txt; reinstalled only when that file changes.
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating .venv"
  python3 -m venv "$VENV" || { echo "error: python3 -m venv failed — install your distribution's python3-venv package" >&2; exit 1; }
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pinned Python packages into .venv (JupyterLab, nbclient, nbconvert, …)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# rustfmt and clippy are used by `make test`.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  else
    echo "error: cargo fmt / cargo clippy missing — install the rustfmt and clippy components" >&2; exit 1
  fi
fi

# The evcxr Jupyter kernel, at the pinned version.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
fresh_evcxr=
have=$(cargo install --list 2>/dev/null | sed -n 's/^evcxr_jupyter v\([^:]*\):$/\1/p')
if [ "$have" != "$EVCXR_VERSION" ] || [ ! -x "$CARGO_BIN/evcxr_jupyter" ]; then
  echo "setup: installing evcxr_jupyter $EVCXR_VERSION with cargo — the first time takes several minutes (about 11 on 2 cores)"
  cargo install --locked --quiet evcxr_jupyter --version "$EVCXR_VERSION"
  fresh_evcxr=1
fi

# The kernelspec, inside .venv. JUPYTER_PATH makes evcxr write there (and check its version there when a kernel
# starts, instead of writing into ~/.local/share/jupyter). EVCXR_CONFIG_DIR points at tools/evcxr, whose
# init.evcxr turns on evcxr's compilation cache so compiled dependencies are reused across kernels.
KDIR="$VENV/share/jupyter/kernels/rust"
if [ -n "$fresh_evcxr" ] || [ ! -f "$KDIR/kernel.json" ] || ! grep -q "$ROOT/tools/evcxr" "$KDIR/kernel.json"; then
  JUPYTER_PATH="$VENV/share/jupyter" "$CARGO_BIN/evcxr_jupyter" --install >/dev/null
fi
"$VENV/bin/python" - "$KDIR/kernel.json" "$ROOT" "$VENV" <<'PY'
import json, sys
path, root, venv = sys.argv[1:]
spec = json.load(open(path))
env = {"EVCXR_CONFIG_DIR": f"{root}/tools/evcxr", "JUPYTER_PATH": f"{venv}/share/jupyter"}
if spec.get("env") != env:
    spec["env"] = env
    json.dump(spec, open(path, "w"), indent=2)
PY
echo "setup: ok (evcxr_jupyter $EVCXR_VERSION, kernelspec in .venv)"
