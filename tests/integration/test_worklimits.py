# test_worklimits.py — one client question can only cause bounded upstream work.
#
# Why it exists: a resolver is an amplifier an attacker can aim.  Crafted
# zones (tests/hier/topology.py, "Work limits") try to make one question
# cost many upstream queries: referrals with hundreds of glue-less NS names
# (NXNSAttack, including the nested form and a victim zone that receives the
# fan-out), CNAME chains and loops across zones, a chain of 40 zone cuts,
# servers that never answer or answer late.  For each, a fresh rootwalkd
# gets the question once; the queries it caused are counted at the
# authoritative servers (hier.count) and by rootwalkd itself (rootwalkctl
# stats), and must stay within the limits configured in the daemon (the
# defaults documented in conf/rootwalkd.conf, or lowered ones).  The answer
# must be the right one (SERVFAIL when a limit stops the work) and must
# come before the query deadline (a generous wall-clock bound: the point is
# that it does not hang).  Unbound gets the same questions and both figures
# are printed; the table of all of them is written to worklimits.json in the
# pytest temp directory.
import json
import os
import re
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import hier
from dnsutil import ask, check_case, make_query
from resolvers import REPO

pytestmark = pytest.mark.rootwalk_only

QUERY_TIMEOUT_S = 5.0     # query-timeout of every test resolver (resolvers.py)
SLACK_S = 5.0             # wall-clock slack on top of it (ASan, a loaded machine)
CLIENT_WAIT_S = 15.0     # how long the one client query waits for any answer
SETTLE_S = 0.3             # counts unchanged this long: the resolver is done
SETTLE_MAX_S = 12.0


def documented_defaults():
    """The work limits as conf/rootwalkd.conf documents their defaults."""
    text = open(os.path.join(REPO, "conf", "rootwalkd.conf")).read()
    keys = ("max-referrals", "max-cname-chain", "max-glueless-ns",
            "max-upstream-queries", "max-subquery-depth", "max-target-nx", "query-timeout")
    out = {}
    for k in keys:
        m = re.search(rf"^\s*#\s*{k}:\s*(\d+)\s*$", text, re.M)
        assert m, f"conf/rootwalkd.conf does not document {k}"
        out[k] = int(m.group(1))
    return out


DEFAULTS = documented_defaults()


def rootwalkctl_path():
    env = os.environ.get("ROOTWALKCTL")
    if env:
        return env
    d = os.path.dirname(os.environ.get("ROOTWALKD") or os.path.join(REPO, "build", "rootwalkd"))
    return os.path.join(d, "rootwalkctl")


def ctl_upstream_sent(res):
    """UDP + TCP queries rootwalkd says it sent (rootwalkctl stats)."""
    p = subprocess.run([rootwalkctl_path(), "-s", os.path.join(res.workdir, "ctl.sock"),
                        "stats"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    kv = {k: int(v) for k, v in re.findall(r"^(\S+)=(\d+)$", p.stdout, re.M)}
    sent = [v for k, v in kv.items() if k.startswith("upstream_queries")]
    assert len(sent) == 2, p.stdout   # one per transport
    return sum(sent)


def settled_counts(d):
    """hier.count() once it stops moving (bounded)."""
    prev = hier.count(d)
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        time.sleep(SETTLE_S)
        cur = hier.count(d)
        if cur == prev:
            break
        prev = cur
    return prev


class Run:
    """What one client question cost one fresh resolver."""

    def __init__(self, kind, case, reply, elapsed, per_server, ctl_sent, log):
        self.kind, self.case, self.reply, self.elapsed = kind, case, reply, elapsed
        self.per_server, self.ctl_sent, self.log = per_server, ctl_sent, log
        self.total = sum(per_server.values())

    def at(self, server):
        return self.per_server.get(server, 0)

    def rcode(self):
        return dns.rcode.to_text(self.reply.rcode()) if self.reply else "no answer"

    def row(self):
        return {"resolver": self.kind, "rcode": self.rcode(), "upstream": self.total,
                "victim": self.at("victim"), "seconds": round(self.elapsed, 2),
                "rootwalkctl": self.ctl_sent}


FIGURES = {}   # case label -> {"rootwalk": row, "unbound": row}


@pytest.fixture(scope="module", autouse=True)
def figures_table(tmp_path_factory, request):
    """Write and show every figure measured here, after the module ran."""
    yield
    if not FIGURES:
        return
    path = os.path.join(str(tmp_path_factory.getbasetemp()), "worklimits.json")
    with open(path, "w") as f:
        json.dump({"defaults": DEFAULTS, "runs": FIGURES}, f, indent=1)
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    tr.write_line(f"\nwork limits: upstream queries per client query ({path})")
    tr.write_line(f"{'case':32} {'resolver':9} {'rcode':9} {'upstream':>8} "
                  f"{'victim':>6} {'seconds':>7}")
    for label, runs in FIGURES.items():
        for r in runs.values():
            tr.write_line(f"{label:32} {r['resolver']:9} {r['rcode']:9} "
                          f"{str(r['upstream']):>8} {r['victim']:6} {str(r['seconds']):>7}")
    for kind in ("rootwalk", "unbound"):
        rows = [(r["upstream"], lbl) for lbl, runs in FIGURES.items()
                for k, r in runs.items() if k == kind and r["upstream"] is not None]
        if rows:
            tr.write_line(f"max upstream queries for one client query, {kind}: "
                          f"{max(rows)[0]} ({max(rows)[1]})")


def ask_once(res, qname, qtype):
    """One client query: a single UDP datagram, waited for up to
    CLIENT_WAIT_S (no resends: with several workers each resend from a new
    port may start a resolution of its own, which is not what is measured)."""
    q = make_query(qname, qtype)
    try:
        r = dns.query.udp(q, res.addr, port=res.port, timeout=CLIENT_WAIT_S)
    except dns.exception.Timeout:
        return None
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, res.addr, port=res.port, timeout=CLIENT_WAIT_S)
    return r


def measure(hier_info, fresh_resolver, case, kind="rootwalk", extra="", label=None):
    """Ask a fresh resolver `case` once; count the upstream queries it caused
    until it settles."""
    d = hier_info["dir"]
    if kind == "rootwalk":
        extra = "verbosity: 3\n" + extra   # the iterator's per-query summary line
    res = fresh_resolver(extra=extra, kind_=kind)
    before = hier.count(d)   # a fresh resolver sends nothing before it is asked
    t0 = time.monotonic()
    reply = ask_once(res, case["qname"], case["qtype"])
    elapsed = time.monotonic() - t0
    if reply is None:   # still at it after CLIENT_WAIT_S: count up to here
        ctl_sent = ctl_upstream_sent(res) if kind == "rootwalk" else None
        status = res.stop()
        after = hier.count(d)
    else:
        after = settled_counts(d)
        ctl_sent = ctl_upstream_sent(res) if kind == "rootwalk" else None
        status = res.stop()
    if kind == "rootwalk":   # a clean exit (under ASan: no leak, no error)
        assert status == 0, f"rootwalkd exited with {status}: see {res.log}"
    per_server = {n: after[n]["queries"] - before[n]["queries"] for n in after
                  if after[n]["queries"] != before[n]["queries"]}
    with open(res.log, errors="replace") as f:
        log = f.read()
    run = Run(kind, case, reply, elapsed, per_server, ctl_sent, log)
    label = label or case["name"]
    FIGURES.setdefault(label, {})[kind] = run.row()
    print(f"{label}: {kind}: {run.rcode()} after {elapsed:.2f}s, "
          f"{run.total} upstream queries {per_server}"
          + (f", rootwalkctl says {ctl_sent}" if ctl_sent is not None else ""))
    return run


def limits(**over):
    """The limits in force: documented defaults with some keys lowered."""
    lim = dict(DEFAULTS, **{"query-timeout": int(QUERY_TIMEOUT_S * 1000)})
    lim.update({k.replace("_", "-"): v for k, v in over.items()})
    return lim


def config_lines(**over):
    return "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in over.items())


def work_case(hier_info, name):
    return dict(hier_info["work_cases"][name], name=name)


def check_bounded(run, lim):
    """The bounds every run must keep, whatever the crafted zone."""
    assert run.reply is not None, f"no answer within {CLIENT_WAIT_S}s"
    assert run.elapsed < lim["query-timeout"] / 1000 + SLACK_S, run.elapsed
    # the iterator's own count and the transport's both stay within the
    # limit; the servers may see a few more only through TCP/EDNS retries
    # of one iterator query (TC, FORMERR, 0x20 mismatch), none here
    asked = len(re.findall(r": asking \S+ \(zone ", run.log))   # one line per send
    assert 0 < asked <= lim["max-upstream-queries"], run.log[-2000:]
    assert run.ctl_sent <= lim["max-upstream-queries"]
    assert run.total <= run.ctl_sent, (run.per_server, run.ctl_sent)


def check_servfail(run, reason_re):
    assert run.rcode() == "SERVFAIL", run.reply
    assert re.search(r"SERVFAIL: .*" + reason_re, run.log, re.I), run.log[-3000:]


def compare_unbound(hier_info, fresh_resolver, case, label=None):
    """Unbound's figures for the same question, for the report (not asserted:
    its limits are not ours)."""
    return measure(hier_info, fresh_resolver, case, kind="unbound", label=label)


# ---- the crafted zones are what the tests below assume ----------------------

def norec(qname, qtype="A"):
    q = dns.message.make_query(qname, qtype, use_edns=0, payload=1232)
    q.flags &= ~dns.flags.RD
    return q


@pytest.mark.parametrize("zone,n", [("fan.nxns.test.", 50), ("fan1000.nxns.test.", 1000)])
def test_fanout_referral_has_only_glueless_names(hier_info, zone, n):
    addr = hier_info["servers"]["attacker"]["addrs"][0]
    r = dns.query.udp(norec("www." + zone), addr, timeout=2)
    if n > 100:   # too big for UDP: the resolver must come back over TCP
        assert r.flags & dns.flags.TC
        r = dns.query.tcp(norec("www." + zone), addr, timeout=5)
    assert not r.flags & dns.flags.AA and not r.answer
    assert sum(len(rrset) for rrset in r.authority if rrset.rdtype == dns.rdatatype.NS) == n
    assert not [rrset for rrset in r.additional if rrset.rdtype == dns.rdatatype.A]


def test_deep_server_refers_one_level_per_address(hier_info):
    addrs = hier_info["servers"]["deep"]["addrs"]
    qname = work_case(hier_info, "deep_40")["qname"]
    for k in (0, 1, 39):
        r = dns.query.udp(norec(qname), addrs[k], timeout=2)
        ns = r.authority[0]
        assert ns.rdtype == dns.rdatatype.NS and not r.flags & dns.flags.AA
        assert ns.name.to_text().startswith(f"d{k + 1}.")
        assert r.additional[0][0].address == addrs[k + 1]
    r = dns.query.udp(norec(qname), addrs[40], timeout=2)
    assert r.flags & dns.flags.AA and r.answer[0][0].address == "198.51.100.40"


def test_slow_servers_answer_late(hier_info):
    for name, delay_ms in (("slow", 200), ("veryslow", 4000)):
        addr = hier_info["servers"][name]["addrs"][0]
        t0 = time.monotonic()
        r = dns.query.udp(norec(f"www.{name}.test."), addr, timeout=delay_ms / 1000 + 3)
        assert time.monotonic() - t0 >= delay_ms / 1000 * 0.9
        assert r.flags & dns.flags.AA and r.answer


# ---- NXNSAttack: referrals with many glue-less NS names --------------------

NXNS = {
    # case, server whose load is the amplification, reason logged
    "nxns_fan": ("victim", "no usable server address"),
    "nxns_fan1000": ("victim", "no usable server address"),
    "nxns_fanroot": ("roots", "no usable server address"),
    "nxns_dead": ("dropmany", "all servers .* failed|deadline|no usable server"),
}


@pytest.mark.parametrize("name", sorted(NXNS))
def test_nxns_fanout_is_bounded(hier_info, fresh_resolver, name):
    case = work_case(hier_info, name)
    target, reason = NXNS[name]
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    check_case(run.reply, case)
    assert re.search(reason, run.log)
    # one referral: at most max-glueless-ns of its names are looked up
    lookups = re.findall(r"resolving glue-less NS", run.log)
    assert 0 < len(lookups) <= lim["max-glueless-ns"], len(lookups)
    if target == "victim":
        assert 0 < run.at("victim") <= lim["max-glueless-ns"], run.per_server
    if target == "dropmany":   # the fan-out reaches at most that many dead servers
        dead = set(re.findall(r": asking (127\.10\.5\.\d+) ", run.log))
        assert 0 < len(dead) <= lim["max-glueless-ns"], dead
    compare_unbound(hier_info, fresh_resolver, case)


def test_nxns_nested_fanout_is_bounded(hier_info, fresh_resolver):
    """NS names that are themselves under fan-out delegations: every level
    would multiply by max-glueless-ns (4 * 4 = 16 victim queries before
    max-target-nx).  Every victim query is the one query of an NS-name
    lookup that comes back NXDOMAIN, lookups run one at a time, and none
    starts once max-target-nx of them found no address: the victim sees
    at most max-target-nx queries for the client query."""
    case = work_case(hier_info, "nxns_nest")
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    check_case(run.reply, case)
    print(f"nxns_nest: victim {run.at('victim')} queries, bound max-target-nx "
          f"{lim['max-target-nx']}")
    assert 0 < run.at("victim") <= lim["max-target-nx"], run.per_server
    assert re.search(r"max-target-nx", run.log), run.log[-3000:]
    compare_unbound(hier_info, fresh_resolver, case)


def test_nxns_three_levels_hit_the_query_budget(hier_info, fresh_resolver):
    """Three levels of nested fan-out would cost 1 + 5 * (1 + 4 * (1 + 4))
    queries; before max-target-nx, max-upstream-queries stopped it with 44
    of its 64 queries at the victim.  Now max-target-nx stops it first: the
    victim sees at most max-target-nx queries (one per NXDOMAIN lookup, as
    in the two-level case) and the whole question stays under the budget."""
    case = work_case(hier_info, "nxns_nest3")
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    check_servfail(run, r"max-target-nx")
    print(f"nxns_nest3: victim {run.at('victim')} queries, bound max-target-nx "
          f"{lim['max-target-nx']}; {run.ctl_sent} upstream in all")
    assert run.ctl_sent < lim["max-upstream-queries"]
    assert 0 < run.at("victim") <= lim["max-target-nx"], run.per_server
    compare_unbound(hier_info, fresh_resolver, case)


def test_nxns_lower_limits_lower_the_work(hier_info, fresh_resolver):
    """max-glueless-ns 1 and max-subquery-depth 1: the victim sees one query
    per referral, and nested NS names are not chased at all."""
    fan = work_case(hier_info, "nxns_fan")
    nest = work_case(hier_info, "nxns_nest")
    default = measure(hier_info, fresh_resolver, fan, label="nxns_fan (defaults)")
    lim = limits(max_glueless_ns=1)
    run = measure(hier_info, fresh_resolver, fan, extra=config_lines(max_glueless_ns=1),
                  label="nxns_fan max-glueless-ns 1")
    check_bounded(run, lim)
    check_case(run.reply, fan)
    assert run.at("victim") == 1 and run.total < default.total, (run.per_server, default.total)
    assert re.search(r"glue-less NS limit 1 reached", run.log)

    lim = limits(max_subquery_depth=1)
    run = measure(hier_info, fresh_resolver, nest, extra=config_lines(max_subquery_depth=1),
                  label="nxns_nest max-subquery-depth 1")
    check_bounded(run, lim)
    check_case(run.reply, nest)
    assert run.at("victim") == 0, run.per_server
    assert re.search(r"nesting limit 1", run.log)

    lim = limits(max_target_nx=1)
    run = measure(hier_info, fresh_resolver, nest, extra=config_lines(max_target_nx=1),
                  label="nxns_nest max-target-nx 1")
    check_bounded(run, lim)
    check_case(run.reply, nest)
    assert run.at("victim") == 1, run.per_server
    assert re.search(r"max-target-nx", run.log)


def test_nxns_victim_load_per_client_query(hier_info, fresh_resolver):
    """The attack sends many questions with random labels under the fan-out:
    each may cost the victim at most max-glueless-ns queries (once the names
    are negatively cached, far fewer)."""
    lim = limits()
    res = fresh_resolver(extra="verbosity: 3\n")
    d = hier_info["dir"]
    n, worst, total = 6, 0, 0
    prev = settled_counts(d)["victim"]["queries"]
    for i in range(n):
        r = ask(res, f"r{i}-{os.getpid()}.fan.nxns.test.", "A")
        assert r.rcode() == dns.rcode.SERVFAIL
        cur = settled_counts(d)["victim"]["queries"]
        worst, total, prev = max(worst, cur - prev), total + cur - prev, cur
    print(f"victim: {total} queries for {n} client queries, at most {worst} for one")
    FIGURES[f"nxns_fan x{n} (one resolver)"] = {"rootwalk": {
        "resolver": "rootwalk", "rcode": "SERVFAIL", "upstream": None, "victim": worst,
        "seconds": None, "rootwalkctl": ctl_upstream_sent(res)}}
    assert worst <= lim["max-glueless-ns"]
    assert total <= lim["max-glueless-ns"] * n


# ---- CNAME chains and loops across zones ----------------------------------

@pytest.mark.parametrize("name,reason", [
    ("cname_long", r"CNAME chain longer than \d+"),
    ("cname_over", r"CNAME chain longer than \d+"),
    ("cname_loop", r"CNAME loop at loop\d\.cn-[ab]\.test"),
])
def test_cname_chain_stops(hier_info, fresh_resolver, name, reason):
    case = work_case(hier_info, name)
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    check_servfail(run, reason)
    # each name of the chain costs one query at cn-a's or cn-b's server,
    # and at most max-cname-chain + 1 names are asked about
    names = run.at("attacker") + run.at("attacker2")
    assert names <= lim["max-cname-chain"] + 1, run.per_server
    compare_unbound(hier_info, fresh_resolver, case)


@pytest.mark.parametrize("name", ["cname_ok", "cname_edge"])
def test_cname_chain_within_limit_answers(hier_info, fresh_resolver, name):
    case = work_case(hier_info, name)
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, limits())
    check_case(run.reply, case)
    compare_unbound(hier_info, fresh_resolver, case)


def test_lower_cname_limit_lowers_the_work(hier_info, fresh_resolver):
    case = work_case(hier_info, "cname_ok")    # 8 hops
    default = measure(hier_info, fresh_resolver, case, label="cname_ok (defaults)")
    lim = limits(max_cname_chain=4)
    run = measure(hier_info, fresh_resolver, case, extra=config_lines(max_cname_chain=4),
                  label="cname_ok max-cname-chain 4")
    check_bounded(run, lim)
    check_servfail(run, r"CNAME chain longer than 4")
    assert run.total < default.total, (run.per_server, default.per_server)


# ---- a long chain of zone cuts ---------------------------------------------

def test_deep_delegation_within_limit_answers(hier_info, fresh_resolver):
    case = work_case(hier_info, "deep_20")
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, limits())
    check_case(run.reply, case)
    assert run.at("deep") >= 20   # every cut was really walked
    compare_unbound(hier_info, fresh_resolver, case)


def test_deep_delegation_stops_at_referral_limit(hier_info, fresh_resolver):
    case = work_case(hier_info, "deep_40")
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    check_servfail(run, rf"referral limit {lim['max-referrals']} reached")
    assert run.at("deep") <= lim["max-referrals"], run.per_server
    compare_unbound(hier_info, fresh_resolver, case)


def test_lower_referral_and_upstream_limits_lower_the_work(hier_info, fresh_resolver):
    case = work_case(hier_info, "deep_20")
    lim = limits(max_referrals=10)
    run = measure(hier_info, fresh_resolver, case, extra=config_lines(max_referrals=10),
                  label="deep_20 max-referrals 10")
    check_bounded(run, lim)
    check_servfail(run, r"referral limit 10 reached")
    assert run.at("deep") <= 10, run.per_server

    lim = limits(max_upstream_queries=8)
    run = measure(hier_info, fresh_resolver, case, extra=config_lines(max_upstream_queries=8),
                  label="deep_20 max-upstream-queries 8")
    check_bounded(run, lim)
    check_servfail(run, r"upstream query limit 8 reached")
    assert run.total <= 8, run.per_server


# ---- servers that answer late or never --------------------------------------

def test_servers_that_never_answer(hier_info, fresh_resolver):
    """16 name servers, none answering: the deadline or the query budget
    ends it, whichever comes first."""
    case = work_case(hier_info, "alldrop")
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    assert run.rcode() == "SERVFAIL"
    assert re.search(r"deadline of \d+ ms passed|all servers for alldrop\.test\. failed",
                     run.log), run.log[-3000:]
    assert run.at("dropmany") <= lim["max-upstream-queries"]
    compare_unbound(hier_info, fresh_resolver, case)

    default = run
    lim = limits(max_upstream_queries=6)
    run = measure(hier_info, fresh_resolver, case, extra=config_lines(max_upstream_queries=6),
                  label="alldrop max-upstream-queries 6")
    check_bounded(run, lim)
    assert run.total <= 6

    lim = limits(query_timeout=2000)   # the later line of the config wins
    run = measure(hier_info, fresh_resolver, case, extra=config_lines(query_timeout=2000),
                  label="alldrop query-timeout 2000")
    check_bounded(run, lim)
    assert re.search(r"deadline of 2000 ms passed", run.log)
    assert run.total < default.total, (run.per_server, default.per_server)


def test_slow_server_answers(hier_info, fresh_resolver):
    case = work_case(hier_info, "slow")
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, limits())
    check_case(run.reply, case)
    compare_unbound(hier_info, fresh_resolver, case)


def test_server_slower_than_the_deadline(hier_info, fresh_resolver):
    case = work_case(hier_info, "veryslow")
    lim = limits()
    run = measure(hier_info, fresh_resolver, case)
    check_bounded(run, lim)
    assert run.rcode() == "SERVFAIL"
    assert run.at("veryslow") <= lim["max-upstream-queries"]
    compare_unbound(hier_info, fresh_resolver, case)
