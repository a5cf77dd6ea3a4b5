#!/usr/bin/env bash
# Load benchmark of the stateless $her2-status on loopback (issue: the service).
#   - gunicorn (her2-status serve) and the load tool (hey) share this machine;
#   - saturation: requests/s and p50/p99 for $her2-status (bench/payload.json: IHC +
#     dual-probe ISH as separate Observations) and for /healthz (the framework floor);
#   - fixed rate: p99 at 200 requests/s;
#   - batch: `her2-status derive` over a 10,000-specimen Bundle (specimens/s).
# Usage: bench/run.sh [WORKERS] [THREADS]   Results: printed, and bench/results-latest.txt
# Bounded: every load runs for DURATION seconds (default 15) against 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}" threads="${2:-4}" duration="${DURATION:-15}"
scripts/bootstrap
command -v hey >/dev/null || { echo "install hey (Debian: apt-get install hey)" >&2; exit 2; }
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HER2_LOG_LEVEL=WARNING .venv/bin/her2-status serve --port "$port" --workers "$workers" \
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
    echo "server: her2-status serve --workers $workers --threads $threads (gunicorn gthread)"
    hey -z "${duration}s" -c 16 "http://127.0.0.1:$port/healthz" | summary "floor GET /healthz"
    hey -z "${duration}s" -c 16 -m POST -T application/fhir+json -D bench/payload.json "$op" \
        | summary "POST \$her2-status"
    hey -z "${duration}s" -c 10 -q 20 -m POST -T application/fhir+json -D bench/payload.json "$op" \
        | summary "POST \$her2-status @200/s"
} | tee "$out"
PYTHONPATH=. .venv/bin/python bench/make_bulk.py 10000 /tmp/her2-bench-10k.json
start=$(date +%s.%N)
.venv/bin/her2-status derive /tmp/her2-bench-10k.json > /tmp/her2-bench-10k-out.json
end=$(date +%s.%N)
echo "derive 10,000 specimens: $(echo "$end - $start" | bc) s, $(echo "10000 / ($end - $start)" | bc) specimens/s" \
    | tee -a "$out"
