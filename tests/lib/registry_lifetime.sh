# Lifetime of the registries a test starts (sourced after common.sh, with PY
# and H = tests/registry/harness.py set).  Every harness goes in $T/s-*; on any
# exit they are all stopped, then common.sh's cleanup removes $T.  A watchdog
# ends the test after WATCHDOG_SECS (default 540, below ctest's 600 s so the
# cleanup still runs), and itself ends with the test even if that is SIGKILLed.
WATCHDOG_SECS=${WATCHDOG_SECS:-540}
(
    for _ in $(seq "$WATCHDOG_SECS"); do
        sleep 1
        kill -0 $$ 2>/dev/null || exit 0
    done
    echo "watchdog: $WATCHDOG_SECS s passed, ending the test" >&2
    kill -TERM $$
) &
WATCHDOG=$!
stop_all() {
    local d
    for d in "$T"/s-*; do
        [ -e "$d/harness.pid" ] && "$PY" "$H" stop --state-dir "$d" >/dev/null 2>&1
    done
    kill "$WATCHDOG" 2>/dev/null
    wait "$WATCHDOG" 2>/dev/null
}
trap 'stop_all; cleanup' EXIT
trap 'echo "terminated" >&2; exit 1' TERM INT
