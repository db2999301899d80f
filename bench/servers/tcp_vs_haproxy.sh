#!/bin/sh
# chan's tcp_balancer example against HAProxy in TCP mode (one thread),
# both pinned to CPU 0, in front of two chan echo bench servers; loadgen
# and the backends share CPU 1. 64 B and 16 KiB request/reply, 100 and
# 1,000 connections. Prints msgs/s and the proxy's CPU per message.
# Needs: haproxy, taskset (Debian: apt-get install haproxy).
# Usage: bench/servers/tcp_vs_haproxy.sh [SECONDS]   (after cargo build --release --workspace --examples)
set -eu
secs=${1:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$here/target/release
work=$(mktemp -d)
trap 'kill $(cat "$work"/pids 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 1s
    timeout client 300s
    timeout server 300s
frontend f
    bind 127.0.0.1:18093
    default_backend b
backend b
    balance roundrobin
    server s1 127.0.0.1:18091
    server s2 127.0.0.1:18092
CONF
start() { "$@" > /dev/null 2>&1 & echo $! >> "$work/pids"; }
start taskset -c 1 "$bin/bench_server" chan 127.0.0.1:18091
start taskset -c 1 "$bin/bench_server" chan 127.0.0.1:18092
start taskset -c 0 "$bin/examples/tcp_balancer" 127.0.0.1:18094 127.0.0.1:18091 127.0.0.1:18092 --max-conns 5000
balancer=$(tail -1 "$work/pids")
start taskset -c 0 haproxy -f "$work/haproxy.cfg"
haproxy=$(tail -1 "$work/pids")
sleep 1
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # name pid addr conns size
    t0=$(cpu_ticks "$2")
    out=$(taskset -c 1 "$bin/loadgen" --addr "$3" --conns "$4" --size "$5" --secs "$secs" --warmup 1)
    t1=$(cpu_ticks "$2")
    echo "$out" | python3 -c "
import json, sys
r = json.load(sys.stdin)
msgs = r['msgs_per_sec'] * r['secs']
print('$1 conns=$4 size=$5 msgs/s=%.0f proxy_cpu_us_per_msg=%.2f p99_us=%d' % (r['msgs_per_sec'], ($t1 - $t0) * 10000 / msgs, r['p99_us']))"
}
for size in 64 16384; do
    for conns in 100 1000; do
        run chan_tcp_balancer "$balancer" 127.0.0.1:18094 "$conns" "$size"
        run haproxy "$haproxy" 127.0.0.1:18093 "$conns" "$size"
    done
done
