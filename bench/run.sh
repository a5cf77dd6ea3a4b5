#!/usr/bin/env bash
# Load benchmark of the stateless $her2-status on loopback (issue: the service).
#   - gunicorn (her2-status serve) and the load tool (hey) share this machine;
#   - saturation: requests/s and p50/p99 for $her2-status (bench/payload.json: IHC +
#     dual-probe ISH as separate Observations) and for /healthz (the framework floor);
#   - fixed rate: p99 at 200 requests/s;
#   - batch: `her2-status derive` over a 10,000-specimen Bundle (specimens/s).
# Usage: bench/run.sh [WORKERS] [THREADS]   Results: printed, and bench/results-latest.txt
# Bounded: every load runs for DURATION seconds (default 15) against 127.0.0.1 only.
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

summary() {  # $1 label; hey output on stdin -> one line
    awk -v label="$1" '/Requests\/sec/ {rps=$2} / 50% in/ {p50=$3} / 99% in/ {p99=$3}
        /\[200\]/ {ok=$2} END {printf "%-28s %8.1f req/s  p50 %6.1f ms  p99 %6.1f ms  200s %s\n",
        label, rps, p50*1000, p99*1000, ok}'
}
out=bench/results-latest.txt
{
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(uname -r); $(date -u +%F)"
    echo "server: her2-status serve --workers $workers --threads $threads (gunicorn gthread)," \
        "$("$python" -c 'import service; print(service.__file__)')"
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
    hey -z "${duration}s" -c 16 "http://127.0.0.1:$port/healthz" | summary "floor GET /healthz"
    hey -z "${duration}s" -c 16 -m POST -T application/fhir+json -D bench/payload.json "$op" \
        | summary "POST \$her2-status"
    hey -z "${duration}s" -c 10 -q 20 -m POST -T application/fhir+json -D bench/payload.json "$op" \
        | summary "POST \$her2-status @200/s"
} | tee "$out"
PYTHONPATH=. "$python" bench/make_bulk.py 10000 /tmp/her2-bench-10k.json
start=$(date +%s.%N)
her2_status derive /tmp/her2-bench-10k.json > /tmp/her2-bench-10k-out.json
end=$(date +%s.%N)
echo "derive 10,000 specimens: $(echo "$end - $start" | bc) s, $(echo "10000 / ($end - $start)" | bc) specimens/s" \
    | tee -a "$out"
