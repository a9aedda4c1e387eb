#!/usr/bin/env bash
# A local two-node Ray cluster with token authentication (Ray >= 2.60), as README "A multi-node Ray cluster" sets it
# up: a driver without the token ends with one line naming the fix; with the token the run finishes.
#
#   benchmarks/cluster_token_auth.sh            # about a minute on 2 cores; prints PASS/FAIL per check
#
# Uses its own HOME (the token lives in ~/.ray/auth_token), port and Ray temp dir, and ends only its own cluster's
# processes on exit (found by that temp dir).
set -uo pipefail
PY=${PYTHON:-python}
RAY=${RAY:-ray}
PORT=${PORT:-26379}  # outside Ray's default worker ports (10002-19999)
WORK=$(mktemp -d)
export HOME="$WORK/home" RAY_AUTH_MODE=token
mkdir -p "$HOME"
ours() { pgrep -f -- "$WORK/ray" || true; }  # only this cluster's processes (never `ray stop`: it stops every one)
cleanup() {
    local pids
    pids=$(ours); [ -z "$pids" ] || kill $pids 2>/dev/null; sleep 2
    pids=$(ours); [ -z "$pids" ] || kill -9 $pids 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail=0
check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi; }

"$RAY" get-auth-token --generate >/dev/null 2>&1 || echo "note: ray get-auth-token --generate failed"
"$RAY" start --head --port "$PORT" --num-cpus 1 --include-dashboard=false --disable-usage-stats \
    --temp-dir "$WORK/ray" >/dev/null 2>&1 ||
    { echo "FAIL head node did not start"; exit 1; }
"$RAY" start --address "127.0.0.1:$PORT" --num-cpus 1 --disable-usage-stats >/dev/null 2>&1 ||
    { echo "FAIL second node did not join with the token"; exit 1; }
echo "PASS two nodes (head + one joined with the token)"

ARGS=(evolve --evaluator ray --address "127.0.0.1:$PORT" --population 4 --generations 1 --epochs 1
      --set task.max_samples=300 --set training.seeds=1 --no-progress)
# a driver without the token: another HOME (no ~/.ray/auth_token), no RAY_AUTH_TOKEN
HOME="$WORK/empty" timeout 120 "$PY" -m deepstruct.cli "${ARGS[@]}" --out "$WORK/no-token" >"$WORK/no-token.out" \
    2>"$WORK/no-token.err"
code=$?
check "without the token: exit code 1 (got $code)" '[ "$code" -eq 1 ]'
check "without the token: one error line naming RAY_AUTH_TOKEN" \
    '[ "$(grep -c "^deepstruct: error:.*RAY_AUTH_TOKEN" "$WORK/no-token.err")" -eq 1 ] && ! grep -q Traceback "$WORK/no-token.err"'
echo "  $(grep '^deepstruct: error:' "$WORK/no-token.err" | cut -c1-300)"
timeout 300 "$PY" -m deepstruct.cli "${ARGS[@]}" --out "$WORK/token" >"$WORK/token.out" 2>"$WORK/token.err"
code=$?
check "with the token: the run finishes (exit $code)" '[ "$code" -eq 0 ] && grep -q "finished" "$WORK/token.out"'
[ "$fail" -eq 0 ] || { echo "--- stderr without the token"; tail -3 "$WORK/no-token.err"; echo "--- with";
                       tail -3 "$WORK/token.err"; }
exit "$fail"
