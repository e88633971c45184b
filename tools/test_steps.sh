#!/usr/bin/env bash
# make test's steps, in order, each timed; the last line gives every step's time (issue 19: make test in 20 minutes
# on a fresh machine with 2 cores). Usage: tools/test_steps.sh step step+step+step step …
#
# A group written a+b+c runs its steps at once. Measured one at a time on a fresh machine: Miri interprets the tests
# on one core (113 s), loom's longest model runs on one core (111 s with its build), and the tooling's tests mostly
# wait on kernels (100 s) — so each left a core idle. A group's output goes to a log per step, printed one after
# the other once all of them have finished; the group fails if any step failed.
set -u
MAKE=${MAKE:-make}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start=$(date +%s)
summary=()
for group in "$@"; do
  IFS=+ read -ra steps <<< "$group"
  t0=$(date +%s)
  if [ "${#steps[@]}" -eq 1 ]; then
    "$MAKE" --no-print-directory "$group" || { echo "make test: $group failed after $(( $(date +%s) - t0 )) s"; exit 1; }
    summary+=("$group $(( $(date +%s) - t0 )) s")
    continue
  fi
  echo "make test: ${steps[*]} at once; their output follows when all have finished"
  for step in "${steps[@]}"; do
    (
      s0=$(date +%s)
      "$MAKE" --no-print-directory "$step" > "$logs/$step.log" 2>&1
      echo "$? $(( $(date +%s) - s0 ))" > "$logs/$step.status"
    ) &
  done
  wait
  failed=() parts=()
  for step in "${steps[@]}"; do
    read -r rc seconds < "$logs/$step.status" || { rc=1; seconds=?; }
    echo "---- make $step: exit $rc after $seconds s ----"
    cat "$logs/$step.log"
    parts+=("$step $seconds s")
    [ "$rc" = 0 ] || failed+=("$step")
  done
  joined=$(printf ' ‖ %s' "${parts[@]}")
  summary+=("[${joined:3}: $(( $(date +%s) - t0 )) s]")
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "make test: ${failed[*]} failed"
    exit 1
  fi
done
total=$(( $(date +%s) - start ))
joined=$(printf ' · %s' "${summary[@]}")
echo "make test: passed in $total s ($(( total / 60 )) min $(( total % 60 )) s): ${joined:3}"
