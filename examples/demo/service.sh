#!/usr/bin/env bash
# Controls this host's app service: service.sh start|stop|status.
# Exit codes follow LSB: 0 ok / running, 1 failed or dead with a pid file, 3 not running.
# The host's settings (HOST_NAME, APP_DIR, LOG_DIR, RUN_DIR, QUEUE_DIR, DB_PATH,
# HTTP_ADDRESS, HTTP_PORT, PYTHON)
# come from service.env next to this script, so every host runs the same script.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
set -a
# shellcheck source=/dev/null
. "$here/service.env"
set +a
pid_file="$RUN_DIR/app.pid"
START_TIMEOUT="${START_TIMEOUT:-15}"
STOP_TIMEOUT="${STOP_TIMEOUT:-10}"

# Alive and not a zombie waiting for its reaper (which may take a while to come).
pid_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# The pid in the pid file, if that process is alive and is our app server.
running_pid() {
    local pid
    [ -f "$pid_file" ] || return 1
    pid="$(cat "$pid_file" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    pid_alive "$pid" || return 1
    if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q app_server.py; then
        return 1
    fi
    echo "$pid"
}

# Prints the HTTP status of /v1/health, or fails when nothing answers.
health_status() {
    "$PYTHON" - "$HTTP_ADDRESS" "$HTTP_PORT" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/v1/health", timeout=2) as reply:
        print(reply.status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    sys.exit(1)
PY
}

installed_version() {
    cat "$APP_DIR/VERSION" 2>/dev/null || echo unknown
}

do_start() {
    local pid waited=0 status
    if pid="$(running_pid)"; then
        echo "Already running: $HOST_NAME $(installed_version) pid $pid port $HTTP_PORT"
        return 0
    fi
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    if [ -f "$APP_DIR/config/app.env" ]; then
        set -a
        # shellcheck source=/dev/null
        . "$APP_DIR/config/app.env"
        set +a
    fi
    nohup "$PYTHON" "$APP_DIR/bin/app_server.py" </dev/null >>"$LOG_DIR/app.log" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"
    while [ "$waited" -lt $((START_TIMEOUT * 10)) ]; do
        if ! pid_alive "$pid"; then
            rm -f "$pid_file"
            echo "Failed to start $HOST_NAME: the process exited; last lines of $LOG_DIR/app.log:"
            tail -n 5 "$LOG_DIR/app.log"
            return 1
        fi
        if status="$(health_status)"; then
            echo "Started: $HOST_NAME $(installed_version) pid $pid port $HTTP_PORT (health HTTP $status)"
            return 0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "Failed to start $HOST_NAME: no answer on port $HTTP_PORT after ${START_TIMEOUT}s"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pid_file"
    return 1
}

do_stop() {
    local pid waited=0
    if ! pid="$(running_pid)"; then
        rm -f "$pid_file"
        echo "Already stopped: $HOST_NAME"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    while pid_alive "$pid" && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        while pid_alive "$pid"; do sleep 0.1; done
        rm -f "$pid_file"
        echo "Stopped: $HOST_NAME pid $pid (force-killed after ${STOP_TIMEOUT}s)"
        return 0
    fi
    rm -f "$pid_file"
    echo "Stopped: $HOST_NAME pid $pid"
    return 0
}

do_status() {
    local pid status
    if pid="$(running_pid)"; then
        status="$(health_status)" || status="no answer"
        echo "Running: Yes"
        echo "Stopped: No"
        echo "Host: $HOST_NAME"
        echo "Version: $(installed_version)"
        echo "Pid: $pid"
        echo "Port: $HTTP_PORT"
        echo "Health: $status"
        return 0
    fi
    echo "Running: No"
    if [ -f "$pid_file" ]; then
        echo "Stopped: No (the process in $pid_file died)"
        echo "Host: $HOST_NAME"
        return 1
    fi
    echo "Stopped: Yes"
    echo "Host: $HOST_NAME"
    return 3
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    restart) do_stop && do_start ;;
    *)
        echo "usage: $0 start|stop|status|restart" >&2
        exit 2
        ;;
esac
