# test_poison.py — cache poisoning: forged replies flood the resolver while it
# resolves, and none of their data ends up in its cache or its answers.
#
# Why it exists: reply matching (source address and port, ID, exact 0x20
# case) and the bailiwick scrub are what keep a resolver's cache clean; unit
# tests check the code, this checks the running daemon against an attacker
# that really forges packets (tests/hier/spoofer.py, raw sockets inside the
# test's private network namespace; every forged datum carries a marker:
# 127.66.x, 2001:db8:6666::, or an "evil" label).
#
# The test is honest only if it can fail, so:
# - the spoofer's selftest proves its packets arrive with the forged source
#   and a valid checksum;
# - a positive control resolver, whose root hint points where no server
#   listens, is served entirely by forged replies (exact port, ID and case):
#   it must accept them (its answer and cache hold the forged address, seen
#   by the same detector that must find nothing in the main run) and must
#   still scrub the out-of-bailiwick records those replies carry;
# - in the campaign, rootwalkd's own counters must show forged replies
#   reaching its open sockets and being refused, and the kernel's UDP
#   counters must account for the rest (no socket, valid checksum).
#
# POISON_SECONDS (default 4) sets the campaign length; POISON_BLIND_RATE
# (default 20000 packets/s, 0 = unlimited) the blind flood's rate.  The
# figures go to stdout and to poison-results.json under pytest's basetemp.
import json
import os
import re
import subprocess
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.query
import pytest

from dnsutil import check_case, make_query, rr_lines
from resolvers import REPO, Resolver, option, rootwalkd_path
from test_raw_mode import Tap, raw_config, raw_hier  # noqa: F401 (a fixture)

HIER = os.path.join(REPO, "tests", "hier")
sys.path.insert(0, HIER)
import spoofer  # noqa: E402

SPOOFER = os.path.join(HIER, "spoofer.py")
SECONDS = float(os.environ.get("POISON_SECONDS", "4"))
BLIND_RATE = float(os.environ.get("POISON_BLIND_RATE", "20000"))
KIND = os.environ.get("RESOLVER", "rootwalk")

# Cases answered quickly by healthy servers (no deliberate timeouts): the
# legitimate traffic resolved under attack, again and again.
LEGIT = ["www_a", "www_aaaa", "mx", "txt", "ns_sld", "mail_a", "nodata", "nxdomain",
         "cname_cross", "cname_cross3", "cname_chain", "mixed_case", "glueless",
         "four_cuts", "wildcard", "dname", "root_server_a"]


# ---- helpers -------------------------------------------------------------

def rootwalkctl(res, *args):
    d = os.path.dirname(rootwalkd_path())
    ctl = os.environ.get("ROOTWALKCTL") or os.path.join(d, "rootwalkctl")
    p = subprocess.run([ctl, "-s", os.path.join(res.workdir, "ctl.sock"), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"rootwalkctl {' '.join(args)}: {p.returncode} {p.stderr}"
    return p.stdout


def stats(res):
    return {k: int(v) for k, v in re.findall(r"^(\S+)=(\d+)$", rootwalkctl(res, "stats"), re.M)}


def cache_rrs(res):
    """The cache dump as (owner, type, rdata) tuples, lower case."""
    out = []
    for line in rootwalkctl(res, "cache", "dump").splitlines():
        if not line or line.startswith(";"):
            continue
        f = line.split(None, 4)
        out.append((f[0].lower(), f[3].upper(), f[4].lower()))
    return out


def forged_in(rrs):
    return [r for r in rrs if spoofer.is_forged_text(" ".join(r))]


def udp_counters():
    """The kernel's UDP counters of this network namespace."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def softnet_dropped():
    """Packets the kernel dropped from full per-CPU backlogs (loopback
    delivery goes through them; a burst of forged packets can overflow
    them).  Machine-wide, so an upper bound for this namespace."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def delta(after, before):
    return {k: after[k] - before.get(k, 0) for k in after}


def ask(res, qname, qtype="A", timeout=10.0):
    """One stub query (UDP, retried, TCP if truncated).  Forged datagrams
    may land on the stub's own port too: dnspython must ignore them."""
    q = make_query(qname, qtype)
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = dns.query.udp(q, res.addr, port=res.port, timeout=2.0, ignore_unexpected=True)
            break
        except dns.exception.Timeout:
            if time.monotonic() > deadline:
                raise
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, res.addr, port=res.port, timeout=timeout)
    return r


class Spoofer:
    """One spoofer.py process; its report is its JSON file."""

    def __init__(self, tmp, cmd, *args):
        self.json = str(tmp / f"spoofer-{cmd}.json")
        self.log = str(tmp / f"spoofer-{cmd}.log")
        with open(self.log, "w") as lf:
            # the session checked the namespace before any TAP was added
            self.proc = subprocess.Popen([sys.executable, SPOOFER, cmd, "--netns-checked",
                                          "--json", self.json, *args],
                                         stdout=lf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "ready" not in self.output():
            assert self.proc.poll() is None, f"spoofer {cmd} died:\n{self.output()}"
            assert time.monotonic() < deadline, f"spoofer {cmd} not ready:\n{self.output()}"
            time.sleep(0.05)

    def output(self):
        with open(self.log) as f:
            return f.read()

    def finish(self, timeout=30):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)
        assert self.proc.returncode == 0, f"spoofer failed:\n{self.output()}"
        with open(self.json) as f:
            return json.load(f)


def start_resolver(tmp, hints, addr, extra=""):
    r = Resolver(KIND, str(tmp), hints, addr=addr, extra=extra)
    return r.start()


# ---- the tool itself --------------------------------------------------------

def test_spoofer_packets_arrive_forged_and_intact():
    p = subprocess.run([sys.executable, SPOOFER, "selftest"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


# ---- positive control: an exact forgery is accepted, and still scrubbed -------

CONTROL_HINTS = (".  3600000 NS A.ROOT-SERVERS.NET.\n"
                 "A.ROOT-SERVERS.NET.  3600000 A 127.66.0.1\n")
# what the impersonated example.com server adds that a scrub must drop:
# out-of-bailiwick NS and addresses, and answers for names not asked
SCRUBBED = [("com.", "NS"), (".", "NS"), ("ns.evil.", "A"), ("www.example.net.", "A"),
            ("a.nic.com.", "A"), ("www.example.com.", "A"), ("mail.example.com.", "A"),
            ("www.example.org.", "A"), ("evil.example.com.", "CNAME")]


def test_exact_forgery_is_accepted_positive_control(hier_info, tmp_path):
    """Nothing listens at 127.66.0.1 (the only root hint) or 127.66.0.2: the
    spoofer answers for them with forged replies of the right port, ID and
    case.  The resolver must believe them (so forged packets do reach its
    sockets and the detector does see forged data) — and must still drop
    what those servers say outside their bailiwick."""
    hints = tmp_path / "control.hints"
    hints.write_text(CONTROL_HINTS)
    imp = Spoofer(tmp_path, "impersonate", "--seconds", "60")
    res = start_resolver(tmp_path / "resolver", str(hints), "127.0.2.1",
                         extra=option(KIND, "use-caps-for-id", "yes"))
    try:
        r = ask(res, "ctl.example.com.", timeout=20)
        assert rr_lines(r.answer) == ["ctl.example.com. A 127.66.6.6"], r.to_text()
        assert spoofer.is_forged_text(r.to_text())
        if KIND == "rootwalk":
            rrs = cache_rrs(res)
            assert ("ctl.example.com.", "A", "127.66.6.6") in forged_in(rrs), rrs
            leaked = [x for x in forged_in(rrs) if (x[0], x[1]) in SCRUBBED]
            assert leaked == [], rrs
            st = stats(res)
            assert st["upstream_replies"] >= 3     # priming, referral, answer
    finally:
        res.stop()
        imp.proc.terminate()
        rep = imp.finish()
    assert rep["sent"].get("exact_zone", 0) >= 1, rep


# ---- the campaign ----------------------------------------------------------------

def legit_round(res, cases, tally, legit):
    for name in legit:
        c = cases[name]
        try:
            r = ask(res, c["qname"], c["qtype"])
        except dns.exception.DNSException as e:
            tally["unanswered"].append(f"{name}: {e!r}")
            continue
        tally["answered"] += 1
        if spoofer.is_forged_text(r.to_text()):
            tally["forged"].append(r.to_text())
        if r.rcode() == dns.rcode.SERVFAIL and c["rcode"] != "SERVFAIL":
            tally["servfail"].append(name)   # denied, not poisoned
            continue
        try:
            check_case(r, c)
            tally["correct"] += 1
        except AssertionError as e:
            tally["wrong"].append(f"{name}: {e}")


def hijacked_delegations(rrs, addr=lambda a: a, require=True):
    """The cut of com. and example.com. and their servers' addresses, where
    they differ from the real ones (a hijacked NS set or glue shows here).
    Missing ones count only with require (a round that failed to resolve
    leaves them out)."""
    want = {("com.", "NS"): {"a.nic.com."},
            ("example.com.", "NS"): {"ns1.example.com.", "ns2.example.com."},
            ("a.nic.com.", "A"): {addr("127.2.0.2")},
            ("ns1.example.com.", "A"): {addr("127.3.0.1")},
            ("ns2.example.com.", "A"): {addr("127.3.0.2")}}
    got = {}
    for o, t, d in rrs:
        if (o, t) in want:
            got.setdefault((o, t), set()).add(d)
    return [f"{k}: {sorted(got.get(k, []))}" for k in want
            if got.get(k) != want[k] and (require or k in got)]


class Target:
    """Where the campaign aims: the resolver, the address its upstream
    queries come from, the interface they cross, and the hierarchy's
    addresses (127.x, or their 198.19.x copy for raw mode)."""

    def __init__(self, res, src, iface="lo", addr=lambda a: a, legit=LEGIT):
        self.res, self.src, self.iface, self.addr, self.legit = res, src, iface, addr, legit


def campaign(target, cases, tmp_path, results_file):
    """Spoofers (blind, insider, Kaminsky) against target for SECONDS while
    legitimate rounds resolve; returns the results and everything the
    assertions need."""
    res, rw = target.res, KIND == "rootwalk"
    before_st = stats(res) if rw else {}
    before_udp = udp_counters()
    before_drops = softnet_dropped()
    forged_cached, hijacked = [], []
    tally = {"answered": 0, "correct": 0, "rounds": 0, "unanswered": [], "wrong": [],
             "forged": [], "servfail": []}
    secs, a = str(SECONDS), target.addr
    spoofers = [
        Spoofer(tmp_path, "blind", "--seconds", secs, "--rate", str(BLIND_RATE),
                "--to", target.src, "--exclude-ports", str(res.port),
                "--sources", ",".join(a(x) for x in ("127.2.0.2", "127.3.0.1", "127.3.0.2",
                                                     "127.1.0.1"))),
        Spoofer(tmp_path, "insider", "--seconds", secs, "--iface", target.iface,
                "--resolver-src", target.src),
        Spoofer(tmp_path, "kaminsky", "--seconds", secs, "--sniff", "--per-name", "50",
                "--iface", target.iface, "--resolver", f"{res.addr}@{res.port}",
                "--to", target.src, "--servers", f"{a('127.3.0.1')},{a('127.3.0.2')}"),
    ]
    t0 = time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        legit_round(res, cases, tally, target.legit)
        tally["rounds"] += 1
        if rw:   # look, then walk again from the root: every round is attacked afresh
            rrs = cache_rrs(res)
            forged_cached += forged_in(rrs)
            hijacked += hijacked_delegations(rrs, a, require=False)
            rootwalkctl(res, "cache", "flush-all")
            rootwalkctl(res, "flush-infra", "all")
    reports = [sp.finish() for sp in spoofers]
    time.sleep(0.5)   # let the last forged datagrams land
    # after the attack: answers from the cache it was aimed at
    legit_round(res, cases, tally, target.legit)
    after_udp = delta(udp_counters(), before_udp)
    backlog_drops = softnet_dropped() - before_drops
    sent = {}
    for rep in reports:
        sent.update(rep["sent"])
    forged_total = sum(sent.values())
    kaminsky = next(r for r in reports if r["kind"] == "kaminsky")
    accepted_client = len(tally["forged"]) + kaminsky["client_answers"]["noerror_forged"]
    results = {"resolver": KIND, "seconds": SECONDS, "forged_sent": sent,
               "forged_total": forged_total,
               "forged_per_second": {r["kind"]: r["per_second"] for r in reports},
               "kaminsky_names": kaminsky["names_asked"],
               "kaminsky_client_answers": kaminsky["client_answers"],
               "insider_queries_sniffed": next(r for r in reports
                                               if r["kind"] == "insider")["queries_sniffed"],
               "legit_answered": tally["answered"], "legit_correct": tally["correct"],
               "legit_servfail": len(tally["servfail"]), "legit_rounds": tally["rounds"],
               "kernel_udp": after_udp}
    st = {}
    if rw:
        rrs = cache_rrs(res)
        forged_cached += forged_in(rrs)
        hijacked += hijacked_delegations(rrs, a)
        st = delta(stats(res), before_st)
        results["rootwalkd"] = {k: v for k, v in st.items() if k.startswith(
            ("upstream_", "stack_drops", "stack_packets_in"))}
        results["forged_judged_by_rootwalkd"] = (st["upstream_mismatched"] +
                                                 st["upstream_near_misses"])
    results["backlog_drops"] = backlog_drops
    results["accepted"] = accepted_client + len(set(forged_cached))
    results["delegations_hijacked"] = hijacked[:10]
    results["legit_servfail_names"] = sorted(set(tally["servfail"]))
    print("poison results: " + json.dumps(results, sort_keys=True))
    results_file.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")

    # nothing forged was accepted anywhere we can look
    assert forged_cached == []
    assert hijacked == []
    assert tally["forged"] == []
    assert kaminsky["client_answers"]["noerror_forged"] == 0
    # every legitimate answer that came was right, and most came; rootwalkd
    # re-asks over TCP after a near-miss, so the attack cannot even deny it
    # an answer (Unbound may answer SERVFAIL: denied, not poisoned)
    assert tally["wrong"] == []
    if rw:
        assert tally["servfail"] == [], "SERVFAIL under attack (denied, not poisoned)"
    assert tally["answered"] >= 0.9 * (tally["rounds"] + 1) * len(target.legit), \
        tally["unanswered"]
    # the attack really happened: packets sent, Kaminsky names resolved
    assert forged_total > 0 and all(r["total"] > 0 for r in reports), reports
    assert kaminsky["client_answers"]["nxdomain"] > 0, kaminsky
    if rw:
        # forged replies reached rootwalkd's open sockets and were refused
        assert results["forged_judged_by_rootwalkd"] > 0, st
    return results, after_udp, forged_total, st


@pytest.fixture
def campaign_resolver(hier_info, tmp_path):
    res = start_resolver(tmp_path / "resolver", hier_info["root_hints"], "127.0.2.2",
                         extra=option(KIND, "use-caps-for-id", "yes"))
    yield res
    crashed = not res.alive()
    status = res.stop()
    assert not crashed and status == 0, f"resolver exit {status}:\n{res.log_tail()}"


def test_forged_replies_never_reach_the_cache(cases, campaign_resolver, tmp_path,
                                              tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / "poison-results.json"
    results, udp, forged_total, st = campaign(Target(campaign_resolver, "127.0.0.1"), cases,
                                              tmp_path, out)
    results["forged_to_closed_ports"] = udp["NoPorts"]
    results["forged_elsewhere"] = (forged_total - udp["NoPorts"] -
                                   results.get("forged_judged_by_rootwalkd", 0))
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    # no forged datagram was malformed (Linux counts InDatagrams only when
    # a datagram is read, so those still queued on a socket that closed
    # cannot be accounted for: the rest are reported, not asserted)
    assert udp["InCsumErrors"] == 0, udp
    assert udp["InErrors"] == udp["RcvbufErrors"], udp
    if st:
        # what rootwalkd refused is at most what reached a socket
        assert results["forged_judged_by_rootwalkd"] <= udp["InDatagrams"], (st, udp)


# ---- the same against raw mode (its own UDP/IP stack behind a TAP) ----------

@pytest.fixture
def raw_campaign_resolver(raw_hier, tmp_path):
    tap = Tap(7)
    try:
        res = Resolver("rootwalk", str(tmp_path / "raw"), raw_hier["root_hints"], addr=tap.raw,
                       port=53, extra=raw_config(tap)).start()
    except BaseException:
        tap.close()
        raise
    res.tap = tap
    yield res
    crashed = not res.alive()
    status = res.stop()
    tap.close()
    assert not crashed and status == 0, f"raw rootwalkd exit {status}:\n{res.log_tail()}"


def raw_addr(a):
    """127.A.B.C -> 198.19.(16A+B).C, as test_raw_mode.py copies the hierarchy."""
    _, x, y, z = a.split(".")
    return "198.19.%d.%s" % (int(x) * 16 + int(y), z)


@pytest.mark.rootwalk_only
def test_raw_mode_forged_replies_never_reach_the_cache(cases, raw_campaign_resolver, tmp_path,
                                                       tmp_path_factory):
    """The raw-mode stack demultiplexes UDP itself: the same campaign, with
    the forged packets routed by the kernel into its TAP."""
    res = raw_campaign_resolver
    out = tmp_path_factory.getbasetemp() / "poison-results-raw.json"
    legit = [n for n in LEGIT if n != "root_server_a"]   # an address: differs in the copy
    tap_drops = tap_tx_dropped(res.tap.name)
    results, _, forged_total, st = campaign(Target(res, res.addr, res.tap.name, raw_addr, legit),
                                            cases, tmp_path, out)
    tap_drops = tap_tx_dropped(res.tap.name) - tap_drops
    # The stack hands each datagram to its socket's callback at once (no
    # queue), so here every forged packet is accounted for: refused by
    # upstream.c, no socket at its port, dropped as not ours (the forged
    # 127.66.0.53 source is a martian on a link), or lost in the TAP's queue.
    # None failed a checksum.
    seen = (results["forged_judged_by_rootwalkd"] + st["stack_drops.udp_no_port"] +
            st["stack_drops.ip_not_us"] + tap_drops)
    results["forged_to_closed_ports"] = st["stack_drops.udp_no_port"]
    results["tap_queue_drops"] = tap_drops
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    assert st["stack_drops.udp_csum"] == 0 and st["stack_drops.ip_csum"] == 0, st
    assert seen >= forged_total, (seen, forged_total, st)


def tap_tx_dropped(ifname):
    """Packets the kernel could not queue to the TAP (this namespace's
    /proc/net/dev; /sys is the host's)."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, counters = line.partition(":")
            if name.strip() == ifname:
                return int(counters.split()[11])
    raise AssertionError(f"no {ifname} in /proc/net/dev")
