#!/usr/bin/env bash
# `make test` as on a fresh machine, to prove CI does not lean on this machine's caches (developers' guide):
# a fresh clone of HEAD with its own empty cargo registry (CARGO_HOME), evcxr cache and kernel build folders
# (XDG_CACHE_HOME), sccache, pip and npm caches. Kept from the machine: the Rust toolchains (rustup) and the
# evcxr_jupyter binary (CARGO_HOME/bin is linked, .crates*.toml copied, so setup does not spend 11 minutes building
# it again). Usage: tools/fresh_machine.sh [folder]   (default /tmp/fresh-<time>); prints the exit code and times.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/fresh-$(date +%H%M%S)}
rm -rf "$root" && mkdir -p "$root"
git clone -q "$repo" "$root/repo"
mkdir -p "$root/cargo" "$root/xdg" "$root/npm" "$root/pip"
home_cargo=${CARGO_HOME:-$HOME/.cargo}
ln -s "$home_cargo/bin" "$root/cargo/bin"
cp "$home_cargo/.crates.toml" "$home_cargo/.crates2.json" "$root/cargo/" 2>/dev/null || true
cd "$root/repo"
echo "fresh-machine run in $root on $(git log --oneline -1) from $(date -u +%H:%M:%S) UTC; $(uptime)"
# A running sccache server keeps its own cache folder: stop it, so the first compile starts one on the empty folder.
command -v sccache >/dev/null && sccache --stop-server >/dev/null 2>&1
start=$(date +%s)
SCCACHE_DIR="$root/sccache" CI=true CARGO_HOME="$root/cargo" XDG_CACHE_HOME="$root/xdg" npm_config_cache="$root/npm" \
  PIP_CACHE_DIR="$root/pip" bash .ci/run
rc=$?
command -v sccache >/dev/null && sccache --stop-server >/dev/null 2>&1
echo "exit $rc after $(( $(date +%s) - start )) s; $(uptime)"
echo "after: registry $(du -sh "$root/cargo/registry" 2>/dev/null | cut -f1), evcxr cache and build folders $(du -sh "$root/xdg" 2>/dev/null | cut -f1)"
exit $rc
