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
from dnsutil import ask, rr_lines
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


def lookup_ttl(res, name, qtype):
    out = ok(res, "cache", "lookup", name, qtype)
    return int(re.search(r"^  ttl: (\d+)$", out, re.M).group(1))


def test_lookup_ttl_counts_down(rw):
    assert ask(rw, "www.example.com.", "A").answer
    t1 = lookup_ttl(rw, "www.example.com", "A")
    time.sleep(2.2)
    t2 = lookup_ttl(rw, "www.example.com", "A")
    assert 1 <= t2 <= t1 - 2, (t1, t2)


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
    check_prometheus(rw)


def test_stats_match_the_traffic_sent(hier_info, rw):
    """Every counter against what was really sent: client queries by type,
    rcode and transport as the test sent them; upstream queries as the
    authoritative servers counted them."""
    stats(rw, "--reset")
    servers0 = hier.count(hier_info["dir"])
    sent = [("www.example.com.", "A", dns.rcode.NOERROR)] * 3 + [
        ("www.example.com.", "AAAA", dns.rcode.NOERROR),
        ("mail.example.com.", "MX", dns.rcode.NOERROR),
        ("nosuchname.example.com.", "A", dns.rcode.NXDOMAIN),
        ("www.example.net.", "A", dns.rcode.NOERROR),
    ]
    for qname, qtype, rcode in sent:
        assert ask(rw, qname, qtype).rcode() == rcode
    assert ask(rw, "www.example.com.", "A", tcp=True).rcode() == dns.rcode.NOERROR
    servers1 = hier.count(hier_info["dir"])
    s = stats(rw)
    assert s["queries"] == len(sent) + 1
    assert s["queries_by_type.A"] == 6 and s["queries_by_type.AAAA"] == 1
    assert s["queries_by_type.MX"] == 1
    assert s["answers_by_rcode.NOERROR"] == 7 and s["answers_by_rcode.NXDOMAIN"] == 1
    assert s["server_queries.udp"] == len(sent) and s["server_queries.tcp"] == 1
    assert s["answer_latency_seconds.le_+Inf"] == len(sent) + 1
    upstream = s["upstream_queries.udp"] + s["upstream_queries.tcp"]
    assert upstream == total(servers1) - total(servers0) > 0
    assert s["upstream_queries.tcp"] == (sum(c["tcp"] for c in servers1.values())
                                         - sum(c["tcp"] for c in servers0.values()))
    assert s["upstream_replies"] == upstream and s["upstream_timeouts"] == 0
    # at least the repeats were answered from the cache
    assert s["cache_answers"] >= 3 and s["resolutions"] >= 1


def check_prometheus(rw):
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


def dump_keys(dump):
    """The entries of a text dump as a set of (owner, type, kind) keys."""
    keys, want = set(), 0
    for line in dump.splitlines():
        m = re.match(r"^;!negative (\S+) (\S+) \S+ (\S+)$", line)
        if m:
            keys.add((m.group(2).lower(), m.group(3), m.group(1)))
        elif line.startswith(";!rrset "):
            want = 1
        elif want and not line.startswith(";"):
            owner, _ttl, _cls, rtype = line.split("\t")[:4]
            keys.add((owner.lower(), rtype, "rrset"))
            want = 0
    return keys


def below(owner, zone):
    return owner == zone or owner.endswith("." + zone)


def test_flush_zone_removes_exactly_the_subtree(hier_info, rw):
    for qname, qtype in [("www.example.com.", "A"), ("mail.example.com.", "MX"),
                         ("nosuchname.example.com.", "A"), ("www.example.net.", "A"),
                         ("www.example.org.", "A")]:
        ask(rw, qname, qtype)
    before = dump_keys(ok(rw, "cache", "dump"))
    subtree = {k for k in before if below(k[0], "example.com.")}
    assert len(subtree) >= 4 and ("com.", "NS", "rrset") in before
    out = ok(rw, "cache", "flush-zone", "example.com")
    assert out == f"removed: {len(subtree)}\n"
    after = dump_keys(ok(rw, "cache", "dump"))
    assert after == before - subtree
    # the walk restarts at com.: the com servers and example.com's answer,
    # the roots are not asked; other zones still answer from the cache
    srv = hier.count(hier_info["dir"])
    assert ask(rw, "www.example.com.", "A").answer
    assert ask(rw, "www.example.net.", "A").answer
    now = hier.count(hier_info["dir"])
    grew = {n for n in now if now[n]["queries"] != srv[n]["queries"]}
    assert grew == {"tld-com", "example-com"}, grew


def write_dump(path, text):
    path.write_text(text)
    return str(path)


def test_dump_stop_start_load_answers_without_upstream(hier_info, rw, tmp_path):
    """A warm restart: dump, stop the daemon, start a new one, load; the
    names answer from the cache, not one query reaches a server."""
    questions = [("www.example.com.", "A"), ("mail.example.com.", "A"),
                 ("alias2.example.com.", "A"), ("nosuchname.example.com.", "A"),
                 ("nodata.example.com.", "AAAA"), ("www.d.c.b.a.test.", "A")]
    first = {q: ask(rw, *q) for q in questions}
    assert all(r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) for r in first.values())
    dump = ok(rw, "cache", "dump")
    assert dump.startswith(";!rootwalk-dump version=2 ")
    m = re.search(r"^;!end entries=(\d+)$", dump, re.M)
    assert m and int(m.group(1)) == dump.count("\n;!rrset ") + dump.count("\n;!negative ")
    path = write_dump(tmp_path / "cache.zone", dump)

    assert ok(rw, "stop") == "ok\n"
    assert rw.proc.wait(10) == 0
    rw.start()
    assert stats(rw)["cache_entries"] == 0
    out = ok(rw, "cache", "load", path)
    assert re.search(r"^loaded: (\d+)$", out, re.M).group(1) == m.group(1), out
    assert "skipped: 0\n" in out
    before = hier.count(hier_info["dir"])
    for q, r in first.items():
        again = ask(rw, *q)
        assert again.rcode() == r.rcode(), q
        assert rr_lines(again.answer) == rr_lines(r.answer), q
    assert hier.count(hier_info["dir"]) == before


def test_load_skips_a_bad_entry_and_says_where(rw, tmp_path):
    for n in ["www.example.com.", "mail.example.com."]:
        ask(rw, n, "A")
    lines = ok(rw, "cache", "dump").splitlines()
    bad = next(i for i, l in enumerate(lines) if re.match(r"^mail\.example\.com\.\t\d+\tIN\tA\t", l))
    lines[bad] = re.sub(r"\tA\t.*$", "\tA\t192.0.2.999", lines[bad])
    path = write_dump(tmp_path / "bad.zone", "\n".join(lines) + "\n")
    entries = int(re.search(r"^;!end entries=(\d+)$", "\n".join(lines), re.M).group(1))
    ok(rw, "cache", "flush-all")
    out = ok(rw, "cache", "load", path)
    assert f"loaded: {entries - 1}\n" in out and "skipped: 1\n" in out
    assert f"skipped-line: {bad + 1}\n" in out
    with open(rw.log) as f:
        log = f.read()
    assert f"{path}:{bad + 1}: bad record" in log
    assert "  owner: mail.example.com." not in ok(rw, "cache", "lookup", "mail.example.com", "A")
    assert "  owner: www.example.com." in ok(rw, "cache", "lookup", "www.example.com", "A")


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


def test_control_group_gives_0660(fresh_resolver):
    """control-group: the socket gets that group and mode 0660.  Inside the
    test's user namespace we are root, and group 0 is the one mapped."""
    r = fresh_resolver(extra="control-group: root\n")
    st = os.lstat(sock_of(r))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == 0
    assert ok(r, "status")
    with pytest.raises(RuntimeError, match="control-group: no group 'nosuchgroup'"):
        fresh_resolver(extra="control-group: nosuchgroup\n")


def raw_session(res, data, timeout=10.0):
    """Send bytes on one raw connection, half-close, and read to the end."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_of(res))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def test_garbage_requests_get_errors_change_nothing_and_dns_answers(hier_info, rw):
    assert ask(rw, "www.example.com.", "A").answer
    dump = dump_keys(ok(rw, "cache", "dump"))
    garbage = [
        (b"\x01\x02\x03 cache flush-all", b"error: request contains control characters"),
        (b"cache flush-all \x00", b"error: request contains control characters"),
        (b"\xff\xfe\x80 \xc3", b"error: unknown command '\xff\xfe\x80'"),
        (b"cache frobnicate www.example.com", b"error: unknown command 'cache frobnicate'"),
        (b"cache flush", b"error: usage: cache flush NAME [TYPE]"),
        (b"cache flush-zone a b c d", b"error: usage: cache flush-zone NAME"),
        (b"cache flush www..example.com", b"error: bad name"),
        (b"cache load " + b"/x" * 30, b"error: cannot open"),
        (b"stats --reset --frobnicate", b"error: usage: stats"),
        (b"w " * 40, b"error: too many words"),
    ]
    for req, want in garbage:
        out = raw_session(rw, req + b"\n")
        assert out.startswith(want) and out.count(b"\n") == 1, (req, out)
    # oversize: an error, then the connection is closed
    out = raw_session(rw, b"cache flush-all " + b"x" * 20000 + b"\n")
    assert out == b"error: request too long (max 4096 bytes)\n", out[:200]
    # nothing changed, and DNS answers from the cache as before
    assert dump_keys(ok(rw, "cache", "dump")) == dump
    before = total(hier.count(hier_info["dir"]))
    assert ask(rw, "www.example.com.", "A").answer
    assert total(hier.count(hier_info["dir"])) == before


def test_many_control_clients_at_once(rw):
    """64 clients connected at once are all served; the 65th is told to
    come back later; DNS answers meanwhile."""
    conns = []
    try:
        for _ in range(70):
            s = socket.socket(socket.AF_UNIX)
            conns.append(s)
            s.connect(sock_of(rw))  # blocking: waits while the backlog is full
            s.settimeout(10)
        assert ask(rw, "www.example.com.", "A").answer
        answers = []
        for s in conns:
            try:
                s.sendall(b"status\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # a refused one may be closed already
        for s in conns:
            out = b""
            while not (out.endswith(b"ok\n") or b"error: " in out):
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
            answers.append(out)
        served = [a for a in answers if a.startswith(b"version: ") and a.endswith(b"\nok\n")]
        refused = [a for a in answers
                   if a == b"error: too many control clients, try again later\n"]
        assert len(served) == 64 and len(refused) == 6, answers
    finally:
        for s in conns:
            s.close()
    # the daemon sees the closes on its next loop turns
    deadline = time.monotonic() + 10
    while ctl(rw, "status")[0] != 0:
        assert time.monotonic() < deadline, "still refusing after all clients left"
        time.sleep(0.05)


def bulk_dump(n, ttl=3600):
    """A dump of n A records under bulk.test., as 'cache load' reads it."""
    out = [f";!rootwalk-dump version=2 time={int(time.time())}"]
    for i in range(n):
        out.append(";!rrset trust=answer-auth rrs=1 sigs=0")
        out.append(f"h{i:06d}.bulk.test.\t{ttl}\tIN\tA\t10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    out.append(f";!end entries={n}")
    return "\n".join(out) + "\n"


def test_silent_dump_client_does_not_delay_dns(hier_info, rw, tmp_path):
    """A client that asks for a dump of 20,000 entries and never reads: the
    daemon holds a bounded backlog for it, DNS keeps answering from the
    cache, other control clients are served, and the dump is still whole
    when the client finally reads."""
    n = 20000
    out = ok(rw, "cache", "load", write_dump(tmp_path / "bulk.zone", bulk_dump(n)))
    assert f"loaded: {n}\n" in out
    silent = socket.socket(socket.AF_UNIX)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    silent.connect(sock_of(rw))
    silent.sendall(b"cache dump\n")
    try:
        time.sleep(1.0)  # let the daemon fill what the client will not read
        before = total(hier.count(hier_info["dir"]))
        for i in range(0, n, n // 50):
            r = ask(rw, f"h{i:06d}.bulk.test.", "A", timeout=5)
            assert r.rcode() == dns.rcode.NOERROR and r.answer, i
        assert total(hier.count(hier_info["dir"])) == before
        status = ok(rw, "status")
        queued = int(re.search(r"^control-queued-bytes: (\d+)$", status, re.M).group(1))
        assert 0 < queued < 512 * 1024, queued
        # now read it all: complete, every entry once
        silent.settimeout(30)
        data = b""
        while not data.endswith(b"\nok\n"):
            chunk = silent.recv(1 << 20)
            assert chunk, data[-200:]
            data += chunk
    finally:
        silent.close()
    text = data.decode()
    names = re.findall(r"^h(\d{6})\.bulk\.test\.\t", text, re.M)
    assert sorted(names) == [f"{i:06d}" for i in range(n)]
    m = re.search(r"^;!end entries=(\d+)$", text, re.M)
    assert int(m.group(1)) == text.count("\n;!rrset ") + text.count("\n;!negative ")


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
