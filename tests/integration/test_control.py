# test_control.py — the control socket of a live rootwalkd, through rootwalkctl.
#
# Why it exists: the unit tests drive src/control*.c on a private loop; this
# checks what an operator sees on a real daemon resolving in the test
# hierarchy: lookups that show the cached data and the delegation the walk
# used (with infra's view of each server), counters that follow real
# queries, flushes that really make the resolver go upstream again, a warm
# restart by dump and load that needs no upstream query, and the socket
# file's life (mode, stale file, refusing a second daemon, removal).
#
# "No upstream traffic" is proven by the authoritative servers' own query
# counters (hier.count), as in test_cache.py.
import os
import re
import signal
import socket
import stat
import subprocess
import time

import dns.rcode
import pytest

import hier
from dnsutil import ask
from resolvers import REPO, Resolver

pytestmark = pytest.mark.rootwalk_only


def rootwalkctl_path():
    env = os.environ.get("ROOTWALKCTL")
    if env:
        return env
    d = os.path.dirname(os.environ.get("ROOTWALKD") or os.path.join(REPO, "build", "rootwalkd"))
    return os.path.join(d, "rootwalkctl")


def sock_of(res):
    return os.path.join(res.workdir, "ctl.sock")


def ctl(res, *args, json=False, sock=None):
    """Run rootwalkctl; returns (exit status, stdout, stderr)."""
    cmd = [rootwalkctl_path(), "-s", sock or sock_of(res)] + (["--json"] if json else [])
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def ok(res, *args, **kw):
    rc, out, err = ctl(res, *args, **kw)
    assert rc == 0, f"rootwalkctl {' '.join(args)}: {rc} {err}"
    return out


def stats(res, *args):
    return {k: int(v) for k, v in re.findall(r"^(\S+)=(\d+)$", ok(res, "stats", *args), re.M)}


def total(counts):
    return sum(c["queries"] for c in counts.values())


@pytest.fixture
def rw(fresh_resolver):
    return fresh_resolver()


def test_socket_is_private_and_status_answers(rw):
    st = os.lstat(sock_of(rw))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    out = ok(rw, "status")
    assert f"listener: {rw.addr}@{rw.port}\n" in out
    assert "mode: kernel\n" in out and f"config: {rw.conf}\n" in out


def test_lookup_shows_cache_and_delegation(rw):
    r = ask(rw, "www.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    out = ok(rw, "cache", "lookup", "www.example.com")
    assert "  type: A\n" in out and "  trust: answer-auth\n" in out
    ttl = int(re.search(r"^  ttl: (\d+)$", out, re.M).group(1))
    assert 0 < ttl <= r.answer[0].ttl
    for rrset in r.answer:
        for rd in rrset:
            assert f"\tA\t{rd.to_text()}\n" in out
    # the walk learnt example.com's servers and measured them
    assert re.search(r"^delegation:\n  zone: example\.com\.\n", out, re.M), out
    assert "infra-known: yes" in out and "srtt-ms: " in out
    js = ok(rw, "cache", "lookup", "www.example.com", "A", json=True)
    assert js.startswith("{") and '"delegation":{"zone":"example.com."' in js


def test_lookup_explains_nxdomain(rw):
    r = ask(rw, "nosuchname.example.com.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    out = ok(rw, "cache", "lookup", "below.nosuchname.example.com")
    assert "  owner: nosuchname.example.com.\n" in out
    assert "  negative: nxdomain\n" in out and "  covers: " in out


def test_stats_follow_queries_and_reset(rw):
    for _ in range(3):
        ask(rw, "www.example.com.", "A")
    ask(rw, "www.example.com.", "AAAA")
    s = stats(rw, "--reset")
    assert s["queries"] == 4 and s["queries_by_type.A"] == 3
    assert s["queries_by_type.AAAA"] == 1
    assert s["answers_by_rcode.NOERROR"] == 4
    assert s["cache_answers"] >= 2 and s["upstream_replies"] >= 1
    assert s["answer_latency_seconds.le_+Inf"] == 4
    s = stats(rw)
    assert s["queries"] == 0 and s["cache_entries"] > 0
    prom = ok(rw, "stats", "--prometheus")
    assert "# TYPE rootwalk_queries_total counter\nrootwalk_queries_total 0\n" in prom
    for line in prom.splitlines():
        assert line.startswith("# ") or re.match(
            r'^rootwalk_[a-z_]+(\{[a-z]+="[^"]*"\})? \d+$', line), line


def test_flush_sends_the_resolver_upstream_again(hier_info, rw):
    ask(rw, "mail.example.com.", "A")
    before = total(hier.count(hier_info["dir"]))
    ask(rw, "mail.example.com.", "A")
    assert total(hier.count(hier_info["dir"])) == before
    assert ok(rw, "cache", "flush", "mail.example.com", "A") == "removed: 1\n"
    r = ask(rw, "mail.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    assert total(hier.count(hier_info["dir"])) > before
    assert ok(rw, "cache", "flush-zone", "example.com").startswith("removed: ")
    assert "  owner: mail.example.com." not in ok(rw, "cache", "lookup", "mail.example.com")
    assert ok(rw, "flush-infra", "all").startswith("removed: ")


def test_dump_load_warm_restart_needs_no_upstream(hier_info, rw, tmp_path):
    names = ["www.example.com.", "mail.example.com."]
    for n in names:
        ask(rw, n, "A")
    dump = ok(rw, "cache", "dump")
    assert dump.startswith(";!rootwalk-dump version=2 ")
    path = tmp_path / "cache.zone"
    path.write_text(dump)
    ok(rw, "cache", "flush-all")
    assert stats(rw)["cache_entries"] == 0
    out = ok(rw, "cache", "load", str(path))
    loaded = int(re.search(r"^loaded: (\d+)$", out, re.M).group(1))
    assert loaded == dump.count("\n;!rrset ") + dump.count("\n;!negative ")
    before = total(hier.count(hier_info["dir"]))
    for n in names:
        r = ask(rw, n, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    assert total(hier.count(hier_info["dir"])) == before


def test_errors_and_exit_status(rw, tmp_path):
    rc, out, err = ctl(rw, "frobnicate")
    assert rc == 1 and "error: unknown command 'frobnicate'" in err
    rc, out, err = ctl(rw, "cache", "load", str(tmp_path / "missing"))
    assert rc == 1 and "cannot open" in err
    rc, out, err = ctl(rw, "status", sock=str(tmp_path / "nothing.sock"))
    assert rc == 2 and "is rootwalkd running?" in err
    rc, out, err = ctl(rw)
    assert rc == 2 and "usage:" in err
    # raw protocol: a 10 KB line is refused and the daemon keeps serving
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_of(rw))
    s.sendall(b"x" * 10240 + b"\n")
    assert s.recv(4096).startswith(b"error: request too long")
    s.close()
    assert ask(rw, "www.example.com.", "A").rcode() == dns.rcode.NOERROR
    assert ok(rw, "verbosity", "3") == "ok\n" and ok(rw, "verbosity") == "verbosity: 3\n"


def test_stale_socket_replaced_live_one_refused(hier_info, tmp_path):
    wd = str(tmp_path / "stale")
    first = Resolver("rootwalk", wd, hier_info["root_hints"], addr="127.0.2.1").start()
    try:
        # a second daemon on the same socket must refuse to start (its own
        # workdir; the later control-socket line wins)
        second = Resolver("rootwalk", str(tmp_path / "second"), hier_info["root_hints"],
                          addr="127.0.2.2", extra=f"control-socket: {sock_of(first)}\n")
        with pytest.raises(RuntimeError, match="already running"):
            second.start()
        assert ok(first, "status")
        # a crash leaves the file behind; the next start replaces it
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(5)
        assert stat.S_ISSOCK(os.lstat(sock_of(first)).st_mode)
        first.start()
        assert ok(first, "status")
    finally:
        first.stop()


def test_stop_command_ends_daemon_and_removes_socket(hier_info, tmp_path):
    r = Resolver("rootwalk", str(tmp_path / "stop"), hier_info["root_hints"],
                 addr="127.0.2.3").start()
    try:
        assert ok(r, "stop") == "ok\n"
        assert r.proc.wait(10) == 0
        deadline = time.monotonic() + 5
        while os.path.exists(sock_of(r)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(sock_of(r))
    finally:
        r.stop()
