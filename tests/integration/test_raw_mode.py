# test_raw_mode.py — rootwalkd in raw mode: its own TCP/IP stack on a TAP
# device, resolving through the whole simulated hierarchy.
#
# Why it exists: these are the acceptance tests of the "Raw mode" issue.  In
# the suite's private network namespace the test makes a TAP device, gives
# the kernel side 198.18.0.1/24 and starts rootwalkd with mode: raw on
# 198.18.0.2.  Then, with real tools: ping gets replies; dig over UDP and
# TCP gets the answers the kernel-mode resolver gives; rootwalkd's own
# upstream queries, including the TCP fallback for truncated answers, leave
# through its stack (the servers' TCP counters and the stack's counters
# move); a big answer crosses several TCP segments; rootwalkctl shows the
# stack.  A second instance on a second TAP runs with loss, reordering and
# duplication injected at the TAP boundary (ROOTWALK_RAW_FAULTS, test only)
# and still answers over UDP (the client retries) and TCP.
#
# Where the hierarchy is: its servers live on 127.x, but a packet with a
# loopback source is a martian on a real link, and the stack drops it (RFC
# 1122 3.2.1.3) — so route_localnet on the kernel side cannot help: the
# replies would be dropped at our end.  The test therefore brings up a copy
# of the hierarchy (same zones and answers) whose servers listen on
# 198.19.x.y, an AnyIP range routed to the kernel's loopback (`ip route add
# local 198.19.0.0/16 dev lo`): 127.A.B.C becomes 198.19.(16A+B).C.  Every
# address used is in 198.18.0.0/15, inside this namespace only.
import os
import re
import socket
import struct
import subprocess
import sys
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "hier"))  # as conftest.py does,
sys.path.insert(0, HERE)                                          # for use as a script

import hier  # noqa: E402
from conftest import _start, _stop  # noqa: E402
from dnsutil import ask, check_case, dig, make_query, summary  # noqa: E402
from resolvers import REPO, rootwalkd_path  # noqa: E402

pytestmark = pytest.mark.rootwalk_only

CI = os.environ.get("CI") == "true"
HIER_NET = "198.19.0.0/16"
TAG = os.getpid() % 10000

# Cases whose answers do not name a server address (those differ in the copy).
CASES = ["www_a", "www_aaaa", "mx", "txt", "ns_sld", "soa_root", "nodata", "nxdomain",
         "nxdomain_tld", "cname_cross3", "cname_chain", "glueless", "four_cuts",
         "wildcard", "dname", "mixed_case"]


def remap_topology(T):
    """Rewrite topology.py's server addresses 127.A.B.C -> 198.19.(16A+B).C:
    the servers, the delegations' glue, the root hints and the records that
    are server addresses.  Answers stay what they were."""
    servers = {a for srv in T.SERVERS.values() for a in srv["addrs"]}

    def remap(a):
        if a not in servers:
            return a
        _, x, y, z = a.split(".")
        return "198.19.%d.%s" % (int(x) * 16 + int(y), z)

    T.ROOTS[:] = [(n, remap(a)) for n, a in T.ROOTS]   # ZONE_NS["."] is this list
    for srv in T.SERVERS.values():
        srv["addrs"] = [remap(a) for a in srv["addrs"]]
    for z, ns in T.ZONE_NS.items():
        if ns is not T.ROOTS:
            T.ZONE_NS[z] = [(n, remap(a) if a else None) for n, a in ns]
    for z, recs in T.RECORDS.items():
        T.RECORDS[z] = [(o, ttl, t, remap(r) if t == "A" else r) for o, ttl, t, r in recs]


def hier_up_remapped(d, netns_checked=False):
    """Start the hierarchy's copy in d (in this process: topology changes).
    hier.py checks the namespace by lo being the only interface; the suite
    checked it at start (conftest.py) and then made TAP devices, so the
    fixture says so with netns_checked."""
    import topology
    remap_topology(topology)
    if netns_checked:
        hier.in_private_netns = lambda: True
    return hier.up(d)


def _run(*args):
    subprocess.run(list(args), check=True, capture_output=True, timeout=30)


def _skip_or_fail(msg):
    if CI:
        pytest.fail(msg)
    pytest.skip(msg)


def rootwalkctl_path():
    return os.environ.get("ROOTWALKCTL") or os.path.join(
        os.path.dirname(os.environ.get("ROOTWALKD") or os.path.join(REPO, "build", "rootwalkd")),
        "rootwalkctl")


def ctl(res, *args):
    p = subprocess.run([rootwalkctl_path(), "-s", os.path.join(res.workdir, "ctl.sock"),
                        *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"rootwalkctl {' '.join(args)}: {p.returncode} {p.stderr}"
    return p.stdout


def stats(res):
    return {k: int(v) for k, v in re.findall(r"^(\S+)=(\d+)$", ctl(res, "stats"), re.M)}


class Tap:
    """A TAP device (persistent until closed) with the kernel's side addressed."""

    def __init__(self, n):
        self.name = f"rwm{TAG}n{n}"
        self.kernel = f"198.18.{n}.1"
        self.raw = f"198.18.{n}.2"
        _run("ip", "tuntap", "add", "dev", self.name, "mode", "tap")
        _run("ip", "addr", "add", f"{self.kernel}/24", "dev", self.name)
        _run("ip", "link", "set", self.name, "up")

    def close(self):
        subprocess.run(["ip", "link", "del", self.name], capture_output=True, timeout=30)


def raw_config(tap, extra=""):
    return (f"mode: raw\nraw-interface: {tap.name}\nraw-address: {tap.raw}/24\n"
            f"raw-gateway: {tap.kernel}\naccess-control: 198.18.0.0/15 allow\n" + extra)


@pytest.fixture(scope="module")
def raw_hier(hier_info, tmp_path_factory):
    """The hierarchy's copy on 198.19.x.y (the session's own stays up)."""
    probe = f"rwp{TAG}"
    r = subprocess.run(["ip", "tuntap", "add", "dev", probe, "mode", "tap"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        _skip_or_fail("cannot create TAP devices here: " + r.stderr.strip())
    subprocess.run(["ip", "link", "del", probe], capture_output=True, timeout=30)
    _run("ip", "route", "add", "local", HIER_NET, "dev", "lo")
    d = str(tmp_path_factory.mktemp("hier_raw"))
    # a child process: the rewritten topology must not leak into this one
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "hier-up", d,
                        "--netns-checked"], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        hier.down(d)
        subprocess.run(["ip", "route", "del", "local", HIER_NET, "dev", "lo"],
                       capture_output=True, timeout=30)
        pytest.fail("the 198.19 hierarchy did not come up:\n" + p.stdout + p.stderr)
    info = {"dir": d, "root_hints": os.path.join(d, "root.hints")}
    yield info
    hier.down(d)
    subprocess.run(["ip", "route", "del", "local", HIER_NET, "dev", "lo"],
                   capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def raw(raw_hier, tmp_path_factory):
    """rootwalkd in raw mode on 198.18.0.2, behind a TAP whose kernel side
    is 198.18.0.1."""
    tap = Tap(0)
    try:
        r = _start("rootwalk", str(tmp_path_factory.mktemp("raw")), raw_hier["root_hints"],
                   tap.raw, port=53, extra=raw_config(tap))
    except BaseException:
        tap.close()
        raise
    r.tap = tap
    yield r
    crashed = not r.alive()
    status = _stop(r)
    tap.close()
    assert not crashed, f"raw-mode rootwalkd died during the tests (status {status})"
    assert status == 0, f"raw-mode rootwalkd did not exit cleanly (status {status})"
    log = r.log_tail(400)
    assert "Sanitizer" not in log and "runtime error" not in log, log


def test_ping(raw):
    p = subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", raw.addr],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert " 3 received" in p.stdout, p.stdout


def test_upstream_queries_leave_through_the_stack(raw, raw_hier, cases):
    """A cold cache: every upstream query goes out through the stack (it has
    no other way out); a truncated answer (big TXT, > 1232 bytes) and a
    server that always truncates make rootwalkd re-ask over TCP, which the
    servers' TCP counters show."""
    before = hier.count(raw_hier["dir"])
    st0 = stats(raw)
    check_case(ask(raw, "big.example.com.", "TXT"), cases["big_txt"])
    check_case(ask(raw, "www.tconly.test.", "A"), cases["tc_only"])
    after = hier.count(raw_hier["dir"])
    st = stats(raw)
    assert after["example-com"]["tcp"] > before["example-com"]["tcp"]
    assert after["bad-tc"]["tcp"] > before["bad-tc"]["tcp"]
    assert after["roots"]["queries"] > before["roots"]["queries"]
    assert st["upstream_tcp_fallbacks"] >= st0["upstream_tcp_fallbacks"] + 2, st
    assert st["stack_tcp_active_opens"] >= st0.get("stack_tcp_active_opens", 0) + 2, st
    assert st["stack_packets_out.udp"] > st0.get("stack_packets_out.udp", 0), st
    assert st["upstream_queries.udp"] > st0["upstream_queries.udp"], st


@pytest.mark.parametrize("name", CASES)
def test_same_answers_as_kernel_mode(raw, resolver, cases, name):
    """Over UDP, case by case: the expected answer, and the kernel-mode
    resolver's."""
    c = cases[name]
    got = ask(raw, c["qname"], c["qtype"])
    check_case(got, c)
    assert summary(got) == summary(ask(resolver, c["qname"], c["qtype"]))


@pytest.mark.parametrize("name", ["www_a", "cname_cross3", "nxdomain", "four_cuts", "big_txt"])
def test_same_answers_over_tcp(raw, resolver, cases, name):
    c = cases[name]
    got = ask(raw, c["qname"], c["qtype"], tcp=True)
    assert not got.flags & dns.flags.TC
    check_case(got, c)
    assert summary(got) == summary(ask(resolver, c["qname"], c["qtype"], tcp=True))


def _dig_answer(out):
    """The answer section of dig's output, TTLs dropped, sorted."""
    lines = []
    section = False
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = True
            continue
        if section and not line.strip():
            break
        if section:
            f = line.split()
            lines.append(" ".join([f[0].lower()] + f[2:]))
    return sorted(lines)


@pytest.mark.parametrize("qname,qtype", [("www.example.com", "A"), ("alias2.example.com", "A"),
                                         ("example.com", "MX"), ("big.example.com", "TXT")])
def test_dig_udp_and_tcp(raw, resolver, qname, qtype):
    """dig itself, over UDP and +tcp, against both modes."""
    for extra in ([], ["+tcp"]):
        got = dig(raw, *extra, qname, qtype)
        want = dig(resolver, *extra, qname, qtype)
        assert "status: NOERROR" in got, got
        assert _dig_answer(got) and _dig_answer(got) == _dig_answer(want), got + want


def test_big_answer_crosses_several_segments(raw, cases):
    """A client announcing a small MSS gets the big TXT (> 1.2 KB, cached by
    now) in several segments, reassembled whole."""
    c = cases["big_txt"]
    check_case(ask(raw, c["qname"], "TXT", tcp=True), c)      # cached
    q = make_query(c["qname"], "TXT").to_wire()
    st0 = stats(raw)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    s.settimeout(15)
    s.connect((raw.addr, 53))
    s.sendall(struct.pack("!H", len(q)) + q)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = s.recv(65536)
        assert chunk, "connection closed before the whole answer"
        data += chunk
    s.close()
    size = struct.unpack("!H", data[:2])[0]
    r = dns.message.from_wire(data[2:2 + size])
    check_case(r, c)
    assert size > 1232
    st = stats(raw)
    segments = st["stack_packets_out.tcp"] - st0["stack_packets_out.tcp"]
    assert segments >= size // 536 + 1, (size, segments)


def test_rootwalkctl_shows_the_stack(raw):
    status = ctl(raw, "status")
    assert "mode: raw" in status, status
    assert f"raw-interface: {raw.tap.name}" in status, status
    assert f"raw-address: {raw.addr}/24" in status, status
    assert re.search(r"^raw-mac: ([0-9a-f]{2}:){5}[0-9a-f]{2}$", status, re.M), status
    # an open client connection shows up, ESTABLISHED, beside the listener
    s = socket.create_connection((raw.addr, 53), timeout=10)
    try:
        table = ctl(raw, "stack")
    finally:
        s.close()
    assert re.search(rf"^arp: {raw.tap.kernel} at ([0-9a-f]{{2}}:){{5}}[0-9a-f]{{2}} resolved",
                     table, re.M), table
    assert re.search(rf"^tcp: {raw.addr}:53 0\.0\.0\.0:0 LISTEN", table, re.M), table
    assert re.search(rf"^tcp: {raw.addr}:53 {raw.tap.kernel}:\d+ ESTABLISHED", table,
                     re.M), table
    st = stats(raw)
    assert st["stack_frames.in"] > 0 and st["stack_frames.out"] > 0, st
    assert "stack_drops.eth_not_us" in st, st


FAULTS = "drop=0.1,dup=0.05,reorder=0.1,seed=4242,rto-max=4000"


@pytest.fixture(scope="module")
def faulty(raw_hier, tmp_path_factory):
    """A second raw-mode rootwalkd whose TAP boundary loses 10%, duplicates
    5% and reorders 10% of the frames, both ways."""
    tap = Tap(1)
    old = os.environ.get("ROOTWALK_RAW_FAULTS")
    os.environ["ROOTWALK_RAW_FAULTS"] = FAULTS
    try:
        r = _start("rootwalk", str(tmp_path_factory.mktemp("raw_faults")),
                   raw_hier["root_hints"], tap.raw, port=53,
                   extra=raw_config(tap, "query-timeout: 10000\nverbosity: 3\n"))
    except BaseException:
        tap.close()
        raise
    finally:
        if old is None:
            del os.environ["ROOTWALK_RAW_FAULTS"]
        else:
            os.environ["ROOTWALK_RAW_FAULTS"] = old
    r.tap = tap
    yield r
    crashed = not r.alive()
    status = _stop(r)
    tap.close()
    assert not crashed and status == 0, f"status {status}"


def ask_like_a_stub(res, qname, qtype, tries=4, **kw):
    """The iterator asks each server of a zone twice at most; with about 19%
    of round trips lost, a zone with one server (example.org.) now and then
    fails and the client gets SERVFAIL, which a stub resolver answers by
    asking again.  Lost client datagrams are resent by ask() itself."""
    for _ in range(tries - 1):
        r = ask(res, qname, qtype, **kw)
        if r.rcode() != dns.rcode.SERVFAIL:
            return r
    return ask(res, qname, qtype, **kw)


@pytest.mark.parametrize("name", ["www_a", "cname_cross3", "four_cuts", "glueless", "nxdomain"])
def test_faults_udp_with_retries(faulty, cases, name):
    c = cases[name]
    check_case(ask_like_a_stub(faulty, c["qname"], c["qtype"], timeout=30), c)


@pytest.mark.parametrize("name", ["big_txt", "cname_chain", "tc_only", "dname"])
def test_faults_tcp(faulty, cases, name):
    c = cases[name]
    r = ask_like_a_stub(faulty, c["qname"], c["qtype"], tcp=True, timeout=60)
    assert not r.flags & dns.flags.TC
    check_case(r, c)


def test_faults_were_on(faulty):
    """The faults did bite: frames were lost (upstream timeouts, TCP
    retransmissions) while everything above completed."""
    assert "raw-faults: yes" in ctl(faulty, "status")
    with open(faulty.log, errors="replace") as f:
        assert "injecting faults" in f.read()
    st = stats(faulty)
    assert st["upstream_timeouts"] + st["stack_tcp_retransmits"] > 0, st


def test_tap_created_when_absent(raw_hier, tmp_path):
    """raw-interface names a TAP that does not exist: rootwalkd creates it,
    and it goes away with the process."""
    name = f"rwm{TAG}new"
    conf = tmp_path / "rootwalk.conf"
    conf.write_text(f"listen: 198.18.9.2@53\nroot-hints: {raw_hier['root_hints']}\n"
                    'username: ""\n'
                    f"control-socket: {tmp_path}/ctl.sock\nmode: raw\n"
                    f"raw-interface: {name}\nraw-address: 198.18.9.2/24\n")
    log = open(tmp_path / "rootwalk.log", "wb")
    p = subprocess.Popen([rootwalkd_path(), "-d", "-c", str(conf)], stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    r = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            r = subprocess.run([rootwalkctl_path(), "-s", f"{tmp_path}/ctl.sock", "status"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        assert r and r.returncode == 0, (tmp_path / "rootwalk.log").read_text()
        assert f"raw-interface: {name}" in r.stdout
        assert subprocess.run(["ip", "link", "show", name], capture_output=True,
                              timeout=10).returncode == 0
    finally:
        p.terminate()
        status = p.wait(10)
        log.close()
    assert status == 0, (tmp_path / "rootwalk.log").read_text()
    assert subprocess.run(["ip", "link", "show", name], capture_output=True,
                          timeout=10).returncode != 0


def main(argv):
    """tests/integration/test_raw_mode.py hier-up|hier-down DIR, inside
    tests/hier/netns-run and before any TAP device exists (README, "Raw
    mode"): the hierarchy's copy on 198.19.x.y, for trying raw mode by hand."""
    if len(argv) < 3 or argv[1] not in ("hier-up", "hier-down"):
        print("usage: test_raw_mode.py hier-up|hier-down DIR   (inside tests/hier/netns-run)",
              file=sys.stderr)
        return 2
    d = os.path.abspath(argv[2])
    if argv[1] == "hier-down":
        hier.down(d)
        return 0
    if "--netns-checked" not in argv:
        subprocess.run(["ip", "route", "replace", "local", HIER_NET, "dev", "lo"],
                       capture_output=True, timeout=30)
    try:
        info = hier_up_remapped(d, netns_checked="--netns-checked" in argv)
    except hier.HierError as e:
        print(f"test_raw_mode.py: {e}", file=sys.stderr)
        return 1
    print(f"hierarchy up on 198.19.x.y: {len(info['servers'])} servers; "
          f"hints {info['root_hints']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
