#!/bin/sh
# chan's HTTP responder example against nginx (one worker), both pinned
# to CPU 0, driven by wrk on CPU 1 (one thread, keep-alive), for 100 and
# 1,000 connections. Prints requests/s and server CPU per request.
# Needs: nginx, wrk, taskset (Debian: apt-get install nginx-light wrk).
# With --server-bound a busy loop shares CPU 0, so that the server (half
# a core), not wrk's core, limits requests/s.
# Usage: bench/servers/http_vs_nginx.sh [--server-bound] [SECONDS]   (after cargo build --release --examples)
set -eu
bound=false
if [ "${1:-}" = --server-bound ]; then bound=true; shift; fi
secs=${1:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
responder=$here/target/release/examples/http_responder
work=$(mktemp -d)
trap 'kill $(cat "$work"/pids 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:18081;
        location / { default_type text/plain; return 200 "hello\n"; }
    }
}
CONF
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# nginx's master forks one worker: count the worker's CPU.
run() { # name pid url conns
    ticks0=$(cpu_ticks "$2")
    out=$(taskset -c 1 wrk -t1 -c"$4" -d"${secs}s" "$3")
    ticks1=$(cpu_ticks "$2")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v r="$rps" -v s="$secs" 'BEGIN { printf "%.2f", t * 10000 / (r * s) }')
    echo "$1 conns=$4 requests/s=$rps server_cpu_us_per_request=$cpu_us"
}
taskset -c 0 "$responder" 127.0.0.1:18080 > "$work/responder.out" 2>&1 &
echo $! >> "$work/pids"
taskset -c 0 nginx -c "$work/nginx.conf" &
echo $! >> "$work/pids"
sleep 1
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
responder_pid=$(head -1 "$work/pids")
if $bound; then
    taskset -c 0 sh -c 'while :; do :; done' &
    echo $! >> "$work/pids"
fi
for conns in 100 1000; do
    run chan_http_responder "$responder_pid" http://127.0.0.1:18080/ "$conns"
    run nginx "$worker" http://127.0.0.1:18081/ "$conns"
done
