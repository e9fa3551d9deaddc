#!/usr/bin/env bash
# The README's promise, checked: clone HEAD into a temporary folder (nothing of this tree's venv, builds
# or untracked files comes along), run `make test` twice (the first run sets everything up, the second
# finds it done: the two times are with and without set-up), then `make demo`. Fails on any failed or
# skipped test. Usage: bash tools/fresh_check.sh [--keep]   (or: make fresh-check)
set -euo pipefail
top=$(git rev-parse --show-toplevel)
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes are not part of the check (only HEAD is cloned)" >&2
fi
dir=$(mktemp -d /tmp/linrep-fresh.XXXXXX)
keep=${1:-}
cleanup() { if [ "$keep" = "--keep" ]; then echo "kept $dir"; else rm -rf "$dir"; fi; }
trap cleanup EXIT
git clone -q "$top" "$dir/repo"
# CI has shared/ (third-party model files for tests, e.g. shared/mlperf-tiny) beside the clone: so here.
if [ -d "$top/../shared" ]; then ln -s "$(cd "$top/../shared" && pwd)" "$dir/shared"; fi
cd "$dir/repo"
echo "fresh clone of $(git rev-parse --short HEAD) in $dir/repo"

timed() {  # timed NAME CMD...: run, log to $dir/NAME.log, print seconds taken
  local t0; t0=$(date +%s)
  "${@:2}" > "$dir/$1.log" 2>&1 || { tail -n 40 "$dir/$1.log"; echo "fresh-check: $1 FAILED" >&2; exit 1; }
  echo $(( $(date +%s) - t0 ))
}
check_summary() {  # the pytest summary line of a log: no failure, no skip
  local line; line=$(grep -E '^[0-9]+ passed' "$dir/$1.log" | tail -n 1)
  echo "$1: $line"
  if [ -z "$line" ] || grep -qE 'failed|skipped|error' <<<"$line" || grep -q '^SKIPPED' "$dir/$1.log"; then
    echo "fresh-check: $1 has failed or skipped tests" >&2; exit 1
  fi
}
first=$(timed test-1 make test); check_summary test-1
second=$(timed test-2 make test); check_summary test-2
demo=$(timed demo make demo)
echo "fresh-check passed: make test ${first} s with set-up, ${second} s set up already; make demo ${demo} s"
