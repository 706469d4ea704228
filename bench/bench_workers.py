#!/usr/bin/python3
# bench_workers.py — CPU per answer of rootwalkd with 1 worker and with 2,
# at the same fixed offered load of cache hits (issue 10: "2 workers over
# the network: CPU per answer within 1.15x of 1 worker's").
#
# Why a measure of its own: on a 2-core machine dnsperf and the resolver
# share the CPU, so QPS cannot show what a second worker adds; CPU time per
# answer at a fixed load can show what it costs (lock traffic on the shared
# cache, cache lines moving between cores, a second loop's wake-ups).
#
# Method (the same as bench.py, whose helpers it uses): the test hierarchy,
# the same hit list, both daemons up at once on their own ports, warmed;
# then ROUNDS interleaved rounds (the order alternating) of dnsperf at
# LOAD QPS for SECS seconds each; CPU = utime+stime of the daemon (all
# threads) from /proc/PID/stat over the run, divided by the answers dnsperf
# got; medians.  dnsperf uses 16 sockets so that SO_REUSEPORT has enough
# source ports to spread over the two workers ("status" then shows how
# many queries each worker took).
#
# Run it inside a private network namespace, from the source root:
#   tests/hier/netns-run /usr/bin/python3 bench/bench_workers.py \
#       --rootwalkd build-rel/rootwalkd --rootwalkctl build-rel/rootwalkctl --work /tmp/bw
import argparse
import os
import re
import statistics
import subprocess
import sys

import bench as B

PORT2 = 5356
ARGS = ["-c", "16", "-q", "2000"]


def make(args, name, port, workers):
    d = B.WORK["dir"]
    conf = os.path.join(d, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(f"listen: {B.ADDR}@{port}\nroot-hints: {B.WORK['hier']}/root.hints\n"
                f"username: \"\"\nverbosity: 0\ncache-size: 256m\nworkers: {workers}\n"
                f"control-socket: {d}/{name}.ctl\n")
    return B.Server(name, port, [args.rootwalkd, "-d", "-c", conf])


def per_worker(args, name):
    if not args.rootwalkctl:
        return ""
    sock = os.path.join(B.WORK["dir"], f"{name}.ctl")
    p = subprocess.run([args.rootwalkctl, "-s", sock, "status"], capture_output=True,
                       text=True, timeout=10)
    return " ".join(re.findall(r"^worker: (\S+)$", p.stdout, re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--rootwalkd", required=True)
    ap.add_argument("--rootwalkctl", default="")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=int, default=6)
    ap.add_argument("--load", type=int, default=20000)
    args = ap.parse_args()
    if not B.hier.in_private_netns():
        sys.exit("bench_workers.py: run me inside a private network namespace")
    d = os.path.abspath(args.work)
    B.WORK.update(dir=d, hier=os.path.join(d, "hier"))
    for sub in ("logs", "out", "lists"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    B.zonegen.nsd_conf = B._nsd_conf_without_rrl(B.zonegen.nsd_conf)
    servers = {}
    cpu = {"w1": [], "w2": []}
    try:
        B.hier.up(B.WORK["hier"])
        servers = {"w1": make(args, "w1", B.PORTS["rootwalkd"], 1),
                   "w2": make(args, "w2", PORT2, 2)}
        for s in servers.values():
            s.start()
        hits = os.path.join(d, "lists", "hits.txt")
        B.write_hits_list(hits)
        B.warm(servers, hits)
        for r in range(args.rounds):
            for n in (["w1", "w2"] if r % 2 == 0 else ["w2", "w1"]):
                res = B.run_dnsperf(servers[n], hits, args.secs, ARGS + ["-Q", str(args.load)],
                                    tag=f"workers{r}")
                cpu[n].append(res["cpu_us_per_answer"])
                B.log(f"round {r + 1}/{args.rounds} {n}: {res['qps']:8.0f} qps, "
                      f"{res['cpu_us_per_answer']:.2f} us CPU/answer, lost {res['lost']}")
        spread = per_worker(args, "w2")
    finally:
        for s in servers.values():
            s.stop()
        B.hier.down(B.WORK["hier"])
    m1, m2 = statistics.median(cpu["w1"]), statistics.median(cpu["w2"])
    print(f"bench_workers: cache hits at {args.load} QPS, {args.rounds} rounds x {args.secs} s, "
          f"medians; load average {B.loadavg()}")
    print(f"  workers: 1  {m1:6.2f} us CPU per answer   (rounds: "
          + ", ".join(f"{x:.2f}" for x in cpu["w1"]) + ")")
    print(f"  workers: 2  {m2:6.2f} us CPU per answer   (rounds: "
          + ", ".join(f"{x:.2f}" for x in cpu["w2"]) + ")")
    print(f"  ratio 2/1   {m2 / m1:6.2f}x   (target <= 1.15x); queries per worker: {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
