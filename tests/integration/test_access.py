# test_access.py — who may use rootwalkd, and how much: open-resolver
# protection, access-control, response rate limiting, the control socket's
# owner, and the privilege drop.
#
# Why it exists: an open resolver on the Internet is an amplifier for
# anyone who forges a source address.  By default rootwalkd must refuse
# every client outside loopback; access-control opens it to chosen
# networks; response rate limiting (rrl-*) caps what one client prefix
# gets over UDP while TCP, which a forger cannot use, stays unlimited.  The
# daemon must also shed root after binding and keep its control socket to
# its own user.
#
# "Non-loopback" clients are 10.99.x.1 addresses this module adds to lo
# inside the test's private network namespace (they exist nowhere else);
# other client prefixes are other 127.x.y.0/24 networks, all local.
#
# The privilege drop needs real root with nobody's uid mapped: inside
# tests/hier/netns-run (unshare -rn) only uid 0 exists, so those tests
# (marker real_root) run in a step of tests/run of their own, in a network
# namespace made with `unshare -n` alone, and skip in the user namespace.
import contextlib
import math
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from dnsutil import ask, make_query
from resolvers import REPO, SLOWDOWN, WRAPPER, WRAPPER_ERROR_STATUS, Resolver

pytestmark = pytest.mark.rootwalk_only

OUTSIDE = "10.99.0.1"        # a client outside loopback
OUTSIDE_OTHER = "10.99.1.1"  # another one, in another /24
NAME = "www.example.com."
QUIET = 1.0 * SLOWDOWN ** 0.5  # a burst's replies are over after this long without one


def rootwalkctl_path():
    d = os.path.dirname(os.environ.get("ROOTWALKD") or os.path.join(REPO, "build", "rootwalkd"))
    return os.path.join(d, "rootwalkctl")


def ctl(sock, *args, user=None):
    """rootwalkctl on sock, as user (a uid) if given: (status, stdout, stderr)."""
    kw = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
    p = subprocess.run([rootwalkctl_path(), "-s", sock, *args], capture_output=True,
                       text=True, timeout=30, **kw)
    return p.returncode, p.stdout, p.stderr


def stats(res):
    rc, out, err = ctl(os.path.join(res.workdir, "ctl.sock"), "stats")
    assert rc == 0, err
    return {k: int(v) for k, v in re.findall(r"^(\S+)=(\d+)$", out, re.M)}


@pytest.fixture(scope="module")
def outside():
    """OUTSIDE and OUTSIDE_OTHER on lo, for this module."""
    added = []
    for a in (OUTSIDE, OUTSIDE_OTHER):
        p = subprocess.run(["ip", "addr", "add", f"{a}/32", "dev", "lo"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 or "File exists" in p.stderr, p.stderr
        added.append(a)
    yield
    for a in added:
        subprocess.run(["ip", "addr", "del", f"{a}/32", "dev", "lo"], capture_output=True,
                       timeout=30)


@contextlib.contextmanager
def running(hier_info, workdir, addr, extra="", acl_lines=None):
    """A rootwalkd of our own (the generated config, but with acl_lines as
    its access-control lines: [] leaves the built-in default).  Stopped at
    the end; it must exit 0 (under valgrind, 99 means it found errors)."""
    r = Resolver("rootwalk", str(workdir), hier_info["root_hints"], addr=addr, extra=extra)
    if acl_lines is not None:
        with open(r.conf) as f:
            text = f.read()
        default = "access-control: 127.0.0.0/8 allow\n"
        assert default in text
        with open(r.conf, "w") as f:
            f.write(text.replace(default, "".join(f"access-control: {a}\n" for a in acl_lines)))
    r.start()
    try:
        yield r
    finally:
        status = r.stop()
    assert status == 0, f"rootwalkd exit status {status}" + (
        f" ({WRAPPER[0]} found errors)" if WRAPPER and status == WRAPPER_ERROR_STATUS else "") + \
        ":\n" + r.log_tail()


def udp_from(src, res, qname=NAME, qtype="A", timeout=3.0):
    """One UDP query from source address src; the reply or None."""
    q = make_query(qname, qtype)
    try:
        return dns.query.udp(q, res.addr, port=res.port, source=src, timeout=timeout)
    except dns.exception.Timeout:
        return None


def tcp_from(src, res, qname=NAME, qtype="A", timeout=5.0):
    """One TCP query from src; the reply, or None if the connection was
    closed or timed out without one."""
    q = make_query(qname, qtype)
    try:
        return dns.query.tcp(q, res.addr, port=res.port, source=src, timeout=timeout)
    except (EOFError, ConnectionError, dns.exception.Timeout):
        return None


def is_full_answer(m):
    return (m.rcode() == dns.rcode.NOERROR and not m.flags & dns.flags.TC and
            any(rr.rdtype == dns.rdatatype.A for rr in m.answer))


def is_slipped(m, q):
    """The slipped form: TC set, no records, the query's ID and question."""
    return (m.flags & dns.flags.TC and m.id == q.id and m.question == q.question and
            not m.answer and not m.authority and not m.additional)


# ---- open-resolver protection and access-control -----------------------

def test_default_refuses_clients_outside_loopback(hier_info, outside, tmp_path):
    """No access-control line: loopback is served, anyone else REFUSED,
    over UDP and TCP alike, and counted."""
    with running(hier_info, tmp_path / "rw", "127.0.2.1", acl_lines=[]) as r:
        assert is_full_answer(udp_from("127.0.0.1", r))
        for src in (OUTSIDE, OUTSIDE_OTHER):
            m = udp_from(src, r)
            assert m is not None and m.rcode() == dns.rcode.REFUSED and not m.answer, m
            m = tcp_from(src, r)
            assert m is not None and m.rcode() == dns.rcode.REFUSED and not m.answer, m
        assert stats(r)["server_acl_refused"] == 4


def test_access_control_opens_a_network_and_denies_another(hier_info, outside, tmp_path):
    """The longest prefix wins: 10.99.0.0/24 allowed inside a denied
    10.99.0.0/16; a denied client gets no answer at all (UDP silence, TCP
    closed), and an unlisted one is refused."""
    acl = ["127.0.0.0/8 allow", "10.99.0.0/16 deny", "10.99.0.0/24 allow"]
    with running(hier_info, tmp_path / "rw", "127.0.2.2", acl_lines=acl) as r:
        assert is_full_answer(udp_from(OUTSIDE, r))
        assert is_full_answer(tcp_from(OUTSIDE, r))
        assert udp_from(OUTSIDE_OTHER, r, timeout=1.0) is None
        assert tcp_from(OUTSIDE_OTHER, r, timeout=2.0) is None
        s = stats(r)
        assert s["server_acl_denied"] == 2 and s["server_acl_refused"] == 0
    acl = ["127.0.0.0/8 allow"]
    with running(hier_info, tmp_path / "rw2", "127.0.2.3", acl_lines=acl) as r:
        m = udp_from(OUTSIDE, r)
        assert m is not None and m.rcode() == dns.rcode.REFUSED


# ---- response rate limiting --------------------------------------------

RATE = 10


class Client:
    """A UDP socket bound to one source address, for bursts."""

    def __init__(self, src, res):
        self.src, self.dst = src, (res.addr, res.port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.s.bind((src, 0))
        self.sent, self.replies = {}, []

    def send(self, n, qname=NAME):
        for _ in range(n):
            q = make_query(qname, "A")
            while q.id in self.sent:
                q = make_query(qname, "A")
            self.sent[q.id] = q
            self.s.sendto(q.to_wire(), self.dst)

    def full(self):
        return sum(is_full_answer(m) for m in self.replies)

    def slipped(self):
        return sum(bool(is_slipped(m, self.sent[m.id])) for m in self.replies)

    def close(self):
        self.s.close()


def collect(clients):
    """Read every client's replies until none came for QUIET seconds.
    Returns when the last one arrived."""
    last = time.monotonic()
    by_fd = {c.s.fileno(): c for c in clients}
    while True:
        ready, _, _ = select.select(list(by_fd), [], [], QUIET)
        if not ready:
            return last
        for fd in ready:
            c = by_fd[fd]
            c.replies.append(dns.message.from_wire(c.s.recv(65535)))
            last = time.monotonic()


@pytest.fixture
def rrl_resolver(fresh_resolver):
    # two workers, so that one table shared by both is what is tested
    r = fresh_resolver(extra=f"rrl-responses-per-second: {RATE}\nrrl-slip: 2\nworkers: 2\n")
    # the name in cache, over TCP (never limited), so the burst is all hits
    assert is_full_answer(ask(r, NAME, "A", tcp=True))
    return r


def test_rrl_burst_gets_the_rate_then_slips_and_drops(rrl_resolver):
    """120 queries at once from 127.0.7.1, from 8 source ports (SO_REUSEPORT
    spreads them over both workers): 127.0.7.0/24 gets at most RATE per
    second (after a one-second burst) in full, whichever worker answers;
    about half the rest slipped (TC, empty), the others dropped; a
    neighbour in the same /24 shares the bucket; a client of another /24
    is not affected."""
    r = rrl_resolver
    ctl(os.path.join(r.workdir, "ctl.sock"), "stats", "--reset")
    a = [Client("127.0.7.1", r) for _ in range(8)]
    same, other = Client("127.0.7.2", r), Client("127.0.8.1", r)
    try:
        t0 = time.monotonic()
        for c in a:
            c.send(15)
        same.send(5)
        other.send(5)
        t_last = collect(a + [same, other])
    finally:
        for c in a + [same, other]:
            c.close()
    s = stats(r)
    # the other /24 has a bucket of its own: every answer in full
    assert other.full() == 5 and len(other.replies) == 5
    # 127.0.7.0/24 got at most the burst plus the refill over the time the
    # replies took, whatever the machine's speed (two tables, one per
    # worker, would let through up to twice that)
    prefix = a + [same]
    full = sum(c.full() for c in prefix)
    assert 1 <= full <= int(RATE * (1 + (t_last - t0))) + 1, (full, t_last - t0)
    assert same.full() < 5
    # everything else came back slipped or not at all, as counted
    slipped = sum(c.slipped() for c in prefix)
    assert sum(len(c.replies) for c in prefix) == full + slipped
    assert s["server_rrl_slipped"] == slipped >= 1
    limited = s["server_rrl_slipped"] + s["server_rrl_dropped"]
    assert full + limited == s["server_queries.udp"] - 5
    assert s["server_rrl_dropped"] in (slipped - 1, slipped)  # slip 2: every other one


def test_rrl_never_limits_tcp(rrl_resolver):
    """60 queries over TCP from one client, well over the rate: all full
    answers, and the RRL counters do not move."""
    r = rrl_resolver
    before = stats(r)
    with socket.create_connection((r.addr, r.port), timeout=10,
                                  source_address=("127.0.7.1", 0)) as s:
        for _ in range(60):
            q = make_query(NAME, "A")
            dns.query.send_tcp(s, q)
            m, _ = dns.query.receive_tcp(s, time.time() + 10)
            assert m.id == q.id and is_full_answer(m), m
    after = stats(r)
    assert after["server_rrl_dropped"] == before["server_rrl_dropped"]
    assert after["server_rrl_slipped"] == before["server_rrl_slipped"]


def test_rrl_slipped_client_gets_its_answer_over_tcp(rrl_resolver):
    """What a real stub does with a slipped reply: asks again over TCP."""
    r = rrl_resolver
    c = Client("127.0.9.1", r)
    try:
        c.send(3 * RATE)
        collect([c])
    finally:
        c.close()
    assert c.slipped() >= 1
    assert is_full_answer(ask(r, NAME, "A", tcp=True))


def test_rrl_off_by_default_limits_nothing(fresh_resolver):
    r = fresh_resolver()
    assert is_full_answer(ask(r, NAME, "A", tcp=True))
    c = Client("127.0.7.1", r)
    try:
        c.send(120)
        collect([c])
    finally:
        c.close()
    assert c.full() == 120 and len(c.replies) == 120
    s = stats(r)
    assert s["server_rrl_dropped"] == 0 and s["server_rrl_slipped"] == 0


# ---- the control socket and the privilege drop --------------------------

def test_control_socket_owned_by_the_daemon_user(fresh_resolver):
    """username "" keeps the user the daemon started as: the socket is
    that user's, mode 0600 (test_control.py checks the mode alone)."""
    r = fresh_resolver()
    st = os.lstat(os.path.join(r.workdir, "ctl.sock"))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


def test_unknown_user_stops_start_with_a_clear_message(hier_info, tmp_path):
    r = Resolver("rootwalk", str(tmp_path / "rw"), hier_info["root_hints"], addr="127.0.2.4",
                 extra='username: "no-such-user-rw"\n')
    with pytest.raises(RuntimeError, match="exited with 1"):
        r.start()
    with open(r.log) as f:
        log = f.read()
    assert "cannot drop privileges: no user 'no-such-user-rw'" in log
    assert "started (config" not in log
    if WRAPPER:
        assert not re.search(r"ERROR SUMMARY: [1-9]", log), log


NOBODY = 65534


def uid_mapped(uid):
    """True when uid exists in our user namespace (always, outside one)."""
    with open("/proc/self/uid_map") as f:
        for line in f:
            inside, _, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return True
    return False


def need_real_root():
    if os.geteuid() == 0 and uid_mapped(NOBODY) and uid_mapped(1):
        return
    why = ("needs real root with nobody's uid mapped; in this user namespace only "
           "uid 0 exists")
    if os.environ.get("ROOTWALK_REAL_ROOT_STEP") == "planned":
        pytest.skip(why + " (tests/run runs it in its real-root step)")
    if os.environ.get("CI") == "true":
        pytest.fail(why + ", and no tests/run real-root step is planned")
    pytest.skip(why)


def proc_ids(pid):
    """(uids, gids, groups) of a process, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", text, re.M).group(1).split()]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", text, re.M).group(1).split()]
    groups = re.search(r"^Groups:[ \t]*(.*)$", text, re.M).group(1).split()
    return uids, gids, groups


@pytest.mark.real_root
def test_privilege_drop_to_nobody(hier_info, tmp_path):
    """username: nobody, started as real root: after start every uid and
    gid of the process is nobody's and it has no supplementary groups; it
    still resolves (new upstream sockets as nobody); its control socket is
    nobody's, mode 0600, usable by root and nobody, refused to another
    user."""
    need_real_root()
    # like /run/rootwalk: the daemon user's directory, so that it can
    # remove its socket at exit; others may look in
    sockdir = tempfile.mkdtemp(prefix="rootwalk-priv-")
    os.chmod(sockdir, 0o755)
    os.chown(sockdir, NOBODY, NOBODY)
    sock = os.path.join(sockdir, "ctl.sock")
    try:
        extra = f'username: "nobody"\ncontrol-socket: "{sock}"\n'
        with running(hier_info, tmp_path / "rw", "127.0.2.5", extra=extra) as r:
            uids, gids, groups = proc_ids(r.proc.pid)
            assert uids == [NOBODY] * 4 and gids == [NOBODY] * 4 and groups == [], \
                (uids, gids, groups)
            m = ask(r, NAME, "A")
            assert is_full_answer(m), m
            st = os.lstat(sock)
            assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == NOBODY, st
            assert ctl(sock, "status")[0] == 0
            assert ctl(sock, "status", user=NOBODY)[0] == 0
            rc, out, err = ctl(sock, "status", user=1)
            assert rc != 0 and "ermission denied" in err, (rc, out, err)
            with open(r.log) as f:
                assert "running as user nobody (uid 65534)" in f.read()
        assert not os.path.exists(sock), "the daemon, as nobody, did not remove its socket"
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
