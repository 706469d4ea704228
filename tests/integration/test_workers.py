# test_workers.py — rootwalkd with several workers (workers: N).
#
# Why it exists: each worker has its own loop and its own SO_REUSEPORT
# listeners, and the kernel spreads clients over them by source address
# and port; they share one cache.  So what a user must see is one
# resolver: a name resolved through one worker is a cache hit for clients
# the other serves (proven at the authoritative servers' own counters,
# hier.count: no second upstream query), "stats" counts every worker's
# clients, a flush empties the cache for all of them, and "stop" ends the
# whole process cleanly.  Queries go out from many source ports so that
# both workers serve some (the per-worker counts in "status" show they do).
import os
import re
import socket
import subprocess

import dns.message
import dns.rcode
import pytest

import hier
from dnsutil import ask
from test_control import ctl, ok, stats, total

pytestmark = pytest.mark.rootwalk_only

PORTS = 64


def ask_from_many_ports(res, qname, n=PORTS):
    """Ask qname n times, each from a fresh UDP socket (a new source port);
    returns the replies."""
    replies = []
    for i in range(n):
        q = dns.message.make_query(qname, "A")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            s.sendto(q.to_wire(), (res.addr, res.port))
            data, _ = s.recvfrom(4096)
        replies.append(dns.message.from_wire(data))
    return replies


def worker_queries(res):
    """Client queries per worker, from "status"."""
    return [int(v) for v in re.findall(r"^worker: (\d+)$", ok(res, "status"), re.M)]


@pytest.fixture
def two(fresh_resolver):
    return fresh_resolver(extra="workers: 2\n")


def test_status_shows_the_workers_and_they_are_threads(two):
    assert re.search(r"^workers: 2$", ok(two, "status"), re.M)
    assert len(worker_queries(two)) == 2
    # worker 0 runs on the main thread, worker 1 on a thread of its own
    assert len(os.listdir(f"/proc/{two.proc.pid}/task")) >= 2


def test_default_is_one_worker_per_cpu(fresh_resolver):
    r = fresh_resolver()
    want = len(os.sched_getaffinity(0))
    assert re.search(rf"^workers: {want}$", ok(r, "status"), re.M)


def test_a_name_resolved_by_one_worker_is_a_hit_for_the_other(hier_info, two):
    first = ask(two, "www.example.com.", "A")
    assert first.rcode() == dns.rcode.NOERROR and first.answer
    before = total(hier.count(hier_info["dir"]))
    replies = ask_from_many_ports(two, "www.example.com.")
    assert all(r.rcode() == dns.rcode.NOERROR and r.answer == first.answer for r in replies)
    # no worker went upstream again
    assert total(hier.count(hier_info["dir"])) == before
    per_worker = worker_queries(two)
    assert all(n > 0 for n in per_worker), per_worker  # both served clients
    assert sum(per_worker) >= PORTS + 1


def test_stats_sum_every_worker(two):
    ask(two, "www.example.com.", "A")
    ok(two, "stats", "--reset")
    ask_from_many_ports(two, "www.example.com.")
    st = stats(two)
    assert st["queries"] == PORTS
    assert st["answers_by_rcode.NOERROR"] == PORTS
    assert st["resolutions"] == 0
    assert st["server_queries.udp"] == PORTS
    assert min(worker_queries(two)) > 0


def test_flush_reaches_every_worker(hier_info, two):
    ask_from_many_ports(two, "mail.example.com.", n=8)
    assert ok(two, "cache", "flush", "mail.example.com", "A") == "removed: 1\n"
    before = total(hier.count(hier_info["dir"]))
    # one query at a time: the first (whichever worker takes it) must go
    # upstream, since the flush reached the cache every worker reads; the
    # rest are hits for both workers
    replies = ask_from_many_ports(two, "mail.example.com.")
    assert all(r.rcode() == dns.rcode.NOERROR and r.answer for r in replies)
    assert total(hier.count(hier_info["dir"])) == before + 1
    assert ok(two, "cache", "flush-zone", "example.com").startswith("removed: ")
    assert ok(two, "flush-infra", "all").startswith("removed: ")
    ask_from_many_ports(two, "mail.example.com.", n=8)
    assert total(hier.count(hier_info["dir"])) > before + 1


def test_reload_and_verbosity_while_workers_serve(two):
    ok(two, "verbosity", "3")
    assert re.search(r"^verbosity: 3$", ok(two, "status"), re.M)
    ok(two, "reload")
    replies = ask_from_many_ports(two, "www.example.com.", n=16)
    assert all(r.rcode() == dns.rcode.NOERROR for r in replies)


def test_stop_ends_every_worker_cleanly(two):
    ask_from_many_ports(two, "www.example.com.", n=16)
    rc, out, err = ctl(two, "stop")
    assert rc == 0, err
    assert two.proc.wait(timeout=20) == 0
    assert not os.path.exists(os.path.join(two.workdir, "ctl.sock"))


def test_sigterm_ends_every_worker_cleanly(two):
    ask_from_many_ports(two, "www.example.com.", n=16)
    two.proc.terminate()
    assert two.proc.wait(timeout=20) == 0
