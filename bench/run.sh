#!/usr/bin/env bash
# Load benchmark of the stateless $her2-status on loopback (issue: the service).
#   - gunicorn (her2-status serve) and the load tool (hey) share this machine;
#   - saturation: requests/s and p50/p99 for $her2-status (bench/payload.json: IHC +
#     dual-probe ISH as separate Observations) and for /healthz (the framework floor);
#   - fixed rate: p99 at 200 requests/s;
#   - batch: `her2-status derive` over a 10,000-specimen Bundle (specimens/s).
# Usage: bench/run.sh [WORKERS] [THREADS]   Results: printed, and bench/results-latest.txt
# Bounded: every load runs for DURATION seconds (default 15) against 127.0.0.1 only.
# BATCH=0 skips the batch run.
# PYTHON=/path/to/python: run this checkout's code with that interpreter (one that has
# the dependencies) instead of scripts/bootstrap's .venv, e.g. from a second worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}" threads="${2:-4}" duration="${DURATION:-15}"
if [ -n "${PYTHON:-}" ]; then
    python="$PYTHON"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's service/
else
    scripts/bootstrap
    python=.venv/bin/python
fi
her2_status() { "$python" -m service.cli "$@"; }
command -v hey >/dev/null || { echo "install hey (Debian: apt-get install hey)" >&2; exit 2; }
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Not through the function: $! must be the server's own process, for the trap.
HER2_LOG_LEVEL=WARNING "$python" -m service.cli serve --port "$port" --workers "$workers" \
    --threads "$threads" > /tmp/her2-bench-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
op="http://127.0.0.1:$port/fhir/\$her2-status"
hey -n 200 -c 4 -m POST -T application/fhir+json -D bench/payload.json "$op" >/dev/null  # warm-up

server_ticks() {  # CPU time (user + system, clock ticks) of the gunicorn master and workers
    local pids
    pids="$server $(pgrep -P "$server" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    cat $(printf '/proc/%s/stat ' $pids) 2>/dev/null | awk '{t += $14 + $15} END {print t}'
}
load() {  # $1 label, then hey's arguments -> one line
    # Requests/s depend on what else runs on the cores; the server's CPU time per request
    # does much less, so it is the figure to compare between runs on a busy machine.
    local label="$1" before after
    shift
    before=$(server_ticks)
    hey "$@" > /tmp/her2-bench-hey.txt
    after=$(server_ticks)
    awk -v label="$label" -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" '
        /Requests\/sec/ {rps=$2} / 50% in/ {p50=$3} / 99% in/ {p99=$3} /\[200\]/ {ok=$2}
        END {printf "%-28s %8.1f req/s  p50 %6.1f ms  p99 %6.1f ms  200s %-7s server CPU %.2f ms/req\n",
             label, rps, p50*1000, p99*1000, ok, ticks * 1000 / hz / ok}' /tmp/her2-bench-hey.txt
}
out=bench/results-latest.txt
{
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(uname -r); $(date -u +%F)"
    echo "server: her2-status serve --workers $workers --threads $threads (gunicorn gthread)," \
        "$("$python" -c 'import service; print(service.__file__)')"
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
    load "floor GET /healthz" -z "${duration}s" -c 16 "http://127.0.0.1:$port/healthz"
    load "POST \$her2-status" -z "${duration}s" -c 16 -m POST -T application/fhir+json \
        -D bench/payload.json "$op"
    load "POST \$her2-status @200/s" -z "${duration}s" -c 10 -q 20 -m POST \
        -T application/fhir+json -D bench/payload.json "$op"
} | tee "$out"
awk '/^floor/ {f=$4; fc=$(NF-1)} /^POST .*-status  / {p=$3; pc=$(NF-1)}
    END {printf "stateless / floor: %.0f %% of the requests/s; server CPU per request %.2f vs %.2f ms (%.0f %%)\n",
         100 * p / f, pc, fc, 100 * fc / pc}' "$out" | tee -a "$out"
[ "${BATCH:-1}" = 0 ] && exit 0  # BATCH=0: the loads only
PYTHONPATH=. "$python" bench/make_bulk.py 10000 /tmp/her2-bench-10k.json
start=$(date +%s.%N)
her2_status derive /tmp/her2-bench-10k.json > /tmp/her2-bench-10k-out.json
end=$(date +%s.%N)
echo "derive 10,000 specimens: $(echo "$end - $start" | bc) s, $(echo "10000 / ($end - $start)" | bc) specimens/s" \
    | tee -a "$out"
