#!/usr/bin/env bash
# Sets up everything the course needs, idempotently: a .venv with the pinned Python tooling, evcxr_jupyter at the
# pinned version, and the Rust kernelspec installed into .venv (not into your global Jupyter folders).
# Called by `make setup` (and so by `make lab` and `make test`).
#
# Optional parts, each run on its own (the Makefile runs the core first):
#   tools/setup.sh --export    npm ci in tools/export: reveal.js, require.js and jQuery vendored for offline slides,
#                              playwright-core for the browser test (`make setup-export`, needed by `make slides`)
#   tools/setup.sh --browser   Debian's Chromium at /usr/bin/chromium, installed with apt-get when absent
#                              (`make setup-browser`, needed by `make browser-test` and so by `make test`);
#                              CHROMIUM=/path/to/chromium uses another Chromium instead
#   tools/setup.sh --miri      checks for `cargo +nightly miri` (`make miri`, part of `make test`): without it, says
#                              so in one line and the Miri step is skipped; under CI (CI=true) installs it with
#                              rustup or fails
set -euo pipefail

EVCXR_VERSION=0.22.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
cd "$ROOT"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 not found — $2" >&2; exit 1; }
}

# --- optional parts ---------------------------------------------------------------------------------------------
setup_export() {
  local dir="$ROOT/tools/export"
  need node "install Node.js 20 or newer (and npm) — slides and the browser test use packages from npm"
  need npm "install npm (it comes with Node.js 20 or newer)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "error: Node.js $(node --version) is too old — playwright-core needs Node.js 20 or newer" >&2; exit 1
  fi
  # Reinstalled only when package.json, package-lock.json or .npmrc change (the stamp lives in node_modules, which
  # `npm ci` deletes first).
  local stamp="$dir/node_modules/.course-lock.sha256" want
  want=$(cd "$dir" && cat package.json package-lock.json .npmrc | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -f "$dir/node_modules/reveal.js/dist/reveal.js" ] \
     || [ ! -d "$dir/node_modules/playwright-core" ]; then
    echo "setup: npm ci in tools/export (reveal.js, require.js, jQuery for offline slides; playwright-core)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
      || { echo "error: npm ci in tools/export failed (is the npm registry reachable?)" >&2; exit 1; }
    echo "$want" > "$stamp"
  fi
  echo "setup: ok (tools/export/node_modules: reveal.js $(node -p "require('$dir/node_modules/reveal.js/package.json').version"), playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version"))"
}

setup_browser() {
  if [ -n "${CHROMIUM:-}" ]; then
    [ -x "$CHROMIUM" ] || { echo "error: CHROMIUM=$CHROMIUM is not an executable" >&2; exit 1; }
  elif [ ! -x /usr/bin/chromium ]; then
    # Debian's Chromium: the browser test drives it with playwright-core (Playwright's own browser download is
    # not used: it needs a network this project does not assume).
    command -v apt-get >/dev/null 2>&1 || {
      echo "error: /usr/bin/chromium is missing and there is no apt-get — install Chromium and run with CHROMIUM=/path/to/chromium" >&2
      exit 1
    }
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
        [ -t 0 ] || sudo=(sudo -n)  # no terminal to ask for a password: fail instead of waiting
      else
        echo "error: /usr/bin/chromium is missing; install it as root: apt-get install -y chromium (or run with CHROMIUM=/path/to/chromium)" >&2
        exit 1
      fi
    fi
    echo "setup: installing Debian's chromium with apt-get (for the browser test; once)"
    "${sudo[@]}" apt-get update -qq >/dev/null \
      && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || { echo "error: apt-get install chromium failed — install it as root: apt-get install -y chromium" >&2; exit 1; }
    [ -x /usr/bin/chromium ] || { echo "error: apt-get installed chromium but /usr/bin/chromium is missing" >&2; exit 1; }
  fi
  echo "setup: ok ($("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -1))"
}

setup_miri() {
  # Miri (`make miri`, part of `make test`) needs a nightly toolchain with the miri and rust-src components.
  # Without them `make test` skips the Miri step with one line; under CI (CI=true) they are installed, or setup
  # fails. MIRI_TOOLCHAIN picks another toolchain (default: nightly).
  local tc="${MIRI_TOOLCHAIN:-nightly}"
  if ! cargo "+$tc" miri --version >/dev/null 2>&1; then
    if [ "${CI:-}" != true ]; then
      echo "make test: skipping Miri — \`cargo +$tc miri\` not found (install it: rustup component add --toolchain $tc miri rust-src)"
      return 0
    fi
    command -v rustup >/dev/null 2>&1 || {
      echo "error: CI needs Miri, and there is no rustup to install it (a $tc toolchain with the miri and rust-src components)" >&2
      exit 1
    }
    echo "setup: installing Miri (rustup: the $tc toolchain's miri and rust-src components)"
    if rustup toolchain list | grep -q "^$tc"; then
      rustup component add --toolchain "$tc" miri rust-src
    else
      rustup toolchain install "$tc" --profile minimal --component miri,rust-src
    fi || { echo "error: CI needs Miri and installing it failed — run: rustup component add --toolchain $tc miri rust-src" >&2; exit 1; }
    cargo "+$tc" miri --version >/dev/null 2>&1 || {
      echo "error: rustup installed miri, but \`cargo +$tc miri\` still does not run" >&2; exit 1
    }
  fi
  # Miri's own build of the standard library (once, in ~/.cache/miri; quiet when it is already there).
  cargo "+$tc" miri setup >/dev/null 2>&1 || {
    echo "error: \`cargo +$tc miri setup\` failed — run it by hand to see why" >&2; exit 1
  }
  echo "setup: ok ($(cargo "+$tc" miri --version))"
}

case "${1:-}" in
  "") ;;
  --export) setup_export; exit 0 ;;
  --browser) setup_browser; exit 0 ;;
  --miri) setup_miri; exit 0 ;;
  *) echo "usage: tools/setup.sh [--export | --browser | --miri]" >&2; exit 2 ;;
esac

# --- the core: .venv, evcxr_jupyter, kernelspec ------------------------------------------------------------------
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
# With sccache on PATH, the kernels compile C code through it (CC="sccache cc": cc-rs, which builds the bundled
# SQLite of lessons 12 and 14, runs the wrapper CC names). evcxr's own :cache serves compiled Rust crates but not a
# build script's work, so without it each new build folder (see kernel.py below) compiles SQLite's C source again
# (about 30 s on 2 cores; docs/latency.md). evcxr's :sccache command is no use here: it only works with :cache off.
SCCACHE=$(command -v sccache || true)
if [ -n "$SCCACHE" ]; then
  echo "setup: sccache found ($SCCACHE): the kernels compile C code through it"
else
  echo "setup: no sccache (optional): lessons 12 and 14 compile SQLite's C code once per kernel build folder (apt-get install sccache makes it a cache hit)"
fi
# The kernel starts through tools/evcxr/kernel.py, which gives it a build folder kept from an earlier kernel
# (EVCXR_TMPDIR): cargo then finds support and every build script's output fresh instead of building them again
# (docs/latency.md). COURSE_BUILD_DIRS=off in the environment turns it off.
"$VENV/bin/python" - "$KDIR/kernel.json" "$ROOT" "$VENV" "$SCCACHE" "$CARGO_BIN/evcxr_jupyter" <<'PY'
import json, os, sys
path, root, venv, sccache, evcxr = sys.argv[1:]
spec = json.load(open(path))
env = {"EVCXR_CONFIG_DIR": f"{root}/tools/evcxr", "JUPYTER_PATH": f"{venv}/share/jupyter"}
if sccache:
    env["CC"] = f"{sccache} cc"
argv = [os.path.abspath(f"{venv}/bin/python"), f"{root}/tools/evcxr/kernel.py", evcxr, "--control_file", "{connection_file}"]
if spec.get("env") != env or spec.get("argv") != argv:
    spec["env"] = env
    spec["argv"] = argv
    json.dump(spec, open(path, "w"), indent=2)
PY
echo "setup: ok (evcxr_jupyter $EVCXR_VERSION, kernelspec in .venv)"
