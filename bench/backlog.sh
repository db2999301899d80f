#!/bin/bash
# usage: bench/backlog.sh BINDIR (lavalite, lim, mbd, sbd from BINDIR;
# the commands from target/release). One line per scenario; see
# docs/performance.md "Scheduling with a backlog". The cluster lives in
# $CLUSTER_DIR (default ./backlog-cluster, removed and remade for each
# line) on 127.0.9.41, ports 45233-45235.
set -u
B=${1:?usage: bench/backlog.sh BINDIR}; N=target/release
export LL_CONF_DIR=${CLUSTER_DIR:-$PWD/backlog-cluster}
fresh() {
  $B/lavalite down --dir "$LL_CONF_DIR" >/dev/null 2>&1; rm -rf "$LL_CONF_DIR"
  $B/lavalite up --dir "$LL_CONF_DIR" --hosts 1 --base-addr 127.0.9.40 --port 45233 >/dev/null 2>&1
}
fresh; $N/bsub --hold --array 1-80000 true >/dev/null; $N/bsub --array 1-20000 sleep 1000 >/dev/null; sleep 3
echo "storm_backlog $($N/bsub_storm --clients 64 --secs 5 | grep -E '"acks_per_sec|p50' | tr -d '\n ')"
fresh; $N/bsub -n 4 --array 1-20000 true >/dev/null; sleep 2
echo "jobs_behind_array $($N/job_throughput --jobs 300 | grep jobs_per_sec | tr -d '\n ')"
fresh; seq 20000 | xargs -P 8 -I{} $N/bsub -n 4 true >/dev/null; sleep 2
echo "jobs_behind_bsubs $($N/job_throughput --jobs 300 | grep jobs_per_sec | tr -d '\n ')"
fresh
echo "jobs_no_backlog $($N/job_throughput --jobs 500 | grep jobs_per_sec | tr -d '\n ')"
fresh
echo "storm_fresh $($N/bsub_storm --clients 64 --secs 5 | grep -E '"acks_per_sec' | tr -d '\n ')"
$B/lavalite down --dir "$LL_CONF_DIR" >/dev/null 2>&1
