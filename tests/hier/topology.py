# topology.py — what the simulated DNS hierarchy contains, as plain data.
#
# Why it exists: one place says which zone is served by which server on which
# address and what every test name should resolve to.  hier.py turns it into
# zone files, server configs and hier.json; the tests read the expected
# answers from hier.json, so no answer is written down twice.
#
# Every address is in 127.0.0.0/8 and only ever exists inside the private
# network namespace the hierarchy runs in.  No name server has an AAAA record,
# so a resolver never has a reason to send a packet anywhere else.

ROOT_LETTERS = "abcdefghijklm"
ROOTS = [(f"{c}.root-servers.net.", f"127.1.0.{i + 1}")
         for i, c in enumerate(ROOT_LETTERS)]

# Servers: name -> kind ("nsd", "knot", or a badserver.py mode), addresses,
# and the zones it serves.  A name server of a zone is (ns name, address).
SERVERS = {
    "roots":        {"kind": "nsd",  "addrs": [a for _, a in ROOTS], "zones": ["."]},
    "tld-net":      {"kind": "nsd",  "addrs": ["127.2.0.1"], "zones": ["net."]},
    "tld-com":      {"kind": "knot", "addrs": ["127.2.0.2"], "zones": ["com."]},
    "tld-org":      {"kind": "nsd",  "addrs": ["127.2.0.3"], "zones": ["org."]},
    "tld-test":     {"kind": "knot", "addrs": ["127.2.0.4"], "zones": ["test."]},
    "example-com":  {"kind": "nsd",  "addrs": ["127.3.0.1", "127.3.0.2"],
                     "zones": ["example.com."]},
    "example-org":  {"kind": "knot", "addrs": ["127.3.1.1"], "zones": ["example.org."]},
    "example-net":  {"kind": "nsd",  "addrs": ["127.3.2.1"], "zones": ["example.net."]},
    "hosting":      {"kind": "knot", "addrs": ["127.3.3.1"],
                     "zones": ["hosting.net.", "glueless.test."]},
    "wild":         {"kind": "nsd",  "addrs": ["127.3.4.1"], "zones": ["wild.test."]},
    "dead-first-ok": {"kind": "knot", "addrs": ["127.3.5.1"], "zones": ["dead-first.test."]},
    "cut-a":        {"kind": "knot", "addrs": ["127.4.0.1"], "zones": ["a.test."]},
    "cut-b":        {"kind": "nsd",  "addrs": ["127.4.0.2"], "zones": ["b.a.test."]},
    "cut-c":        {"kind": "knot", "addrs": ["127.4.0.3"], "zones": ["c.b.a.test."]},
    "cut-d":        {"kind": "nsd",  "addrs": ["127.4.0.4"], "zones": ["d.c.b.a.test."]},
    # scripted misbehaving servers (badserver.py), UDP and TCP on port 53
    "bad-drop":     {"kind": "drop",     "addrs": ["127.5.0.1"], "zones": []},
    "bad-tc":       {"kind": "tc",       "addrs": ["127.5.0.2"], "zones": ["tconly.test."]},
    "bad-refused":  {"kind": "refused",  "addrs": ["127.5.0.3"], "zones": []},
    "bad-servfail": {"kind": "servfail", "addrs": ["127.5.0.4"], "zones": []},
    "bad-lame":     {"kind": "lame",     "addrs": ["127.5.0.5"], "zones": []},
    # lossy.test: its only name server is lossy.py, a relay that drops a
    # third of the UDP queries (seeded) in front of lossy-backend
    "lossy-backend": {"kind": "nsd", "addrs": ["127.3.6.1"], "zones": ["lossy.test."]},
    "lossy":        {"kind": "lossy", "addrs": ["127.6.0.1"], "zones": [],
                     "backend": "lossy-backend", "relays": "lossy.test."},
}

# Name servers of every zone (the apex NS set and the parent's delegation).
# An address of None means "no glue": the resolver must look the name up.
ZONE_NS = {
    ".": ROOTS,
    "net.": [("a.nic.net.", "127.2.0.1")],
    "com.": [("a.nic.com.", "127.2.0.2")],
    "org.": [("a.nic.org.", "127.2.0.3")],
    "test.": [("a.nic.test.", "127.2.0.4")],
    "example.com.": [("ns1.example.com.", "127.3.0.1"), ("ns2.example.com.", "127.3.0.2")],
    "example.org.": [("ns1.example.org.", "127.3.1.1")],
    "example.net.": [("ns1.example.net.", "127.3.2.1")],
    "hosting.net.": [("ns.hosting.net.", "127.3.3.1")],
    "glueless.test.": [("ns.hosting.net.", None)],
    "wild.test.": [("ns.wild.test.", "127.3.4.1")],
    # the dropper is listed first: a resolver must fall back to the second
    "dead-first.test.": [("ns1.dead-first.test.", "127.5.0.1"),
                         ("ns2.dead-first.test.", "127.3.5.1")],
    "a.test.": [("ns.a.test.", "127.4.0.1")],
    "b.a.test.": [("ns.b.a.test.", "127.4.0.2")],
    "c.b.a.test.": [("ns.c.b.a.test.", "127.4.0.3")],
    "d.c.b.a.test.": [("ns.d.c.b.a.test.", "127.4.0.4")],
    "tconly.test.": [("ns.tconly.test.", "127.5.0.2")],
    "alllame.test.": [("ns1.alllame.test.", "127.5.0.5"),   # lame referral
                      ("ns2.alllame.test.", "127.5.0.3"),   # REFUSED
                      ("ns3.alllame.test.", "127.5.0.4")],  # SERVFAIL
    "refused.test.": [("ns.refused.test.", "127.5.0.3")],
    "lossy.test.": [("ns.lossy.test.", "127.6.0.1")],   # the relay, not the backend
}

SOA_MINIMUM = 300      # negative-caching TTL of every zone
DEFAULT_TTL = 3600
BIG_TXT_STRINGS = 6    # 6 strings of 250 bytes: the answer is > 1232 bytes
BIG_TXT = ["%d" % i + "x" * 249 for i in range(BIG_TXT_STRINGS)]

# Records of each zone besides SOA, apex NS, in-zone NS addresses and the
# delegations to its children (all generated).  Owner names are relative to
# the zone unless they end in a dot.  (owner, ttl or None, type, rdata)
RECORDS = {
    ".": [],
    "net.": [(n, None, "A", a) for n, a in ROOTS],
    "com.": [],
    "org.": [],
    "test.": [("dname", None, "DNAME", "example.com.")],
    "example.com.": [
        ("@", None, "MX", "10 mail.example.com."),
        ("@", None, "TXT", '"v=spf1 -all"'),
        ("www", None, "A", "192.0.2.80"),
        ("www", None, "AAAA", "2001:db8::80"),
        ("mail", None, "A", "192.0.2.25"),
        ("txt", None, "TXT", '"hello world" "second string"'),
        ("ttl3", 3, "A", "192.0.2.3"),
        ("nodata", None, "A", "192.0.2.4"),
        ("big", None, "TXT", " ".join('"%s"' % s for s in BIG_TXT)),
        ("alias", None, "CNAME", "www.example.org."),
        ("alias2", None, "CNAME", "chain.example.org."),
        ("loop1", None, "CNAME", "loop2"),
        ("loop2", None, "CNAME", "loop1"),
        ("chain1", None, "CNAME", "chain2"),
        ("chain2", None, "CNAME", "chain3"),
        ("chain3", None, "CNAME", "chain4"),
        ("chain4", None, "CNAME", "chain5"),
        ("chain5", None, "CNAME", "target"),
        ("target", None, "A", "192.0.2.55"),
        ("MiXeD", None, "A", "192.0.2.99"),
    ],
    "example.org.": [
        ("www", None, "A", "192.0.2.180"),
        ("chain", None, "CNAME", "www.example.net."),
    ],
    "example.net.": [("www", None, "A", "192.0.2.181")],
    "hosting.net.": [],
    "glueless.test.": [("www", None, "A", "192.0.2.33")],
    "wild.test.": [("*", None, "A", "127.9.9.9")],
    "dead-first.test.": [("www", None, "A", "192.0.2.66")],
    "a.test.": [],
    "b.a.test.": [],
    "c.b.a.test.": [],
    "d.c.b.a.test.": [("www", None, "A", "192.0.2.44")],
    "tconly.test.": [("www", None, "A", "192.0.2.77")],
    "lossy.test.": [("www", None, "A", "192.0.2.88"), ("*", None, "A", "192.0.2.89")],
}


def _rr(owner, rtype, rdata):
    return f"{owner} {rtype} {rdata}"


# Expected answers, keyed by a short case name.  "answer" lists the RRs of
# the answer section as "owner TYPE rdata" (lower-case owner, no TTL, no
# class); "authority_soa" names the zone whose SOA must be in the authority
# section of a negative answer.
CASES = {
    "www_a": {"qname": "www.example.com.", "qtype": "A", "rcode": "NOERROR",
              "answer": [_rr("www.example.com.", "A", "192.0.2.80")]},
    "www_aaaa": {"qname": "www.example.com.", "qtype": "AAAA", "rcode": "NOERROR",
                 "answer": [_rr("www.example.com.", "AAAA", "2001:db8::80")]},
    "mx": {"qname": "example.com.", "qtype": "MX", "rcode": "NOERROR",
           "answer": [_rr("example.com.", "MX", "10 mail.example.com.")]},
    "txt": {"qname": "txt.example.com.", "qtype": "TXT", "rcode": "NOERROR",
            "answer": [_rr("txt.example.com.", "TXT", '"hello world" "second string"')]},
    "ns_sld": {"qname": "example.com.", "qtype": "NS", "rcode": "NOERROR",
               "answer": [_rr("example.com.", "NS", "ns1.example.com."),
                          _rr("example.com.", "NS", "ns2.example.com.")]},
    "ns_tld": {"qname": "org.", "qtype": "NS", "rcode": "NOERROR",
               "answer": [_rr("org.", "NS", "a.nic.org.")]},
    "soa_sld": {"qname": "example.org.", "qtype": "SOA", "rcode": "NOERROR",
                "answer": [_rr("example.org.", "SOA",
                               "ns1.example.org. hostmaster.example.org. "
                               f"2024010101 3600 900 604800 {SOA_MINIMUM}")]},
    "soa_root": {"qname": ".", "qtype": "SOA", "rcode": "NOERROR",
                 "answer": [_rr(".", "SOA", "a.root-servers.net. hostmaster.root-servers.net. "
                                f"2024010101 3600 900 604800 {SOA_MINIMUM}")]},
    "root_server_a": {"qname": "m.root-servers.net.", "qtype": "A", "rcode": "NOERROR",
                      "answer": [_rr("m.root-servers.net.", "A", "127.1.0.13")]},
    "mail_a": {"qname": "mail.example.com.", "qtype": "A", "rcode": "NOERROR",
               "answer": [_rr("mail.example.com.", "A", "192.0.2.25")]},
    "ttl3": {"qname": "ttl3.example.com.", "qtype": "A", "rcode": "NOERROR", "ttl": 3,
             "answer": [_rr("ttl3.example.com.", "A", "192.0.2.3")]},
    "nodata": {"qname": "nodata.example.com.", "qtype": "AAAA", "rcode": "NOERROR",
               "answer": [], "authority_soa": "example.com."},
    "nxdomain": {"qname": "nonexistent.example.com.", "qtype": "A", "rcode": "NXDOMAIN",
                 "answer": [], "authority_soa": "example.com."},
    "nxdomain_tld": {"qname": "www.no-such-tld.", "qtype": "A", "rcode": "NXDOMAIN",
                     "answer": [], "authority_soa": "."},
    "big_txt": {"qname": "big.example.com.", "qtype": "TXT", "rcode": "NOERROR",
                "answer": [_rr("big.example.com.", "TXT",
                               " ".join('"%s"' % s for s in BIG_TXT))]},
    "cname_cross": {"qname": "alias.example.com.", "qtype": "A", "rcode": "NOERROR",
                    "answer": [_rr("alias.example.com.", "CNAME", "www.example.org."),
                               _rr("www.example.org.", "A", "192.0.2.180")]},
    "cname_cross3": {"qname": "alias2.example.com.", "qtype": "A", "rcode": "NOERROR",
                     "answer": [_rr("alias2.example.com.", "CNAME", "chain.example.org."),
                                _rr("chain.example.org.", "CNAME", "www.example.net."),
                                _rr("www.example.net.", "A", "192.0.2.181")]},
    "cname_chain": {"qname": "chain1.example.com.", "qtype": "A", "rcode": "NOERROR",
                    "answer": [_rr("chain1.example.com.", "CNAME", "chain2.example.com."),
                               _rr("chain2.example.com.", "CNAME", "chain3.example.com."),
                               _rr("chain3.example.com.", "CNAME", "chain4.example.com."),
                               _rr("chain4.example.com.", "CNAME", "chain5.example.com."),
                               _rr("chain5.example.com.", "CNAME", "target.example.com."),
                               _rr("target.example.com.", "A", "192.0.2.55")]},
    "cname_loop": {"qname": "loop1.example.com.", "qtype": "A", "rcode": "SERVFAIL"},
    "mixed_case": {"qname": "mixed.example.com.", "qtype": "A", "rcode": "NOERROR",
                   "answer": [_rr("mixed.example.com.", "A", "192.0.2.99")]},
    "glueless": {"qname": "www.glueless.test.", "qtype": "A", "rcode": "NOERROR",
                 "answer": [_rr("www.glueless.test.", "A", "192.0.2.33")]},
    "four_cuts": {"qname": "www.d.c.b.a.test.", "qtype": "A", "rcode": "NOERROR",
                  "answer": [_rr("www.d.c.b.a.test.", "A", "192.0.2.44")]},
    "wildcard": {"qname": "anything.wild.test.", "qtype": "A", "rcode": "NOERROR",
                 "answer": [_rr("anything.wild.test.", "A", "127.9.9.9")]},
    "dead_first": {"qname": "www.dead-first.test.", "qtype": "A", "rcode": "NOERROR",
                   "answer": [_rr("www.dead-first.test.", "A", "192.0.2.66")]},
    "tc_only": {"qname": "www.tconly.test.", "qtype": "A", "rcode": "NOERROR",
                "answer": [_rr("www.tconly.test.", "A", "192.0.2.77")]},
    "all_lame": {"qname": "www.alllame.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "refused": {"qname": "www.refused.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "dname": {"qname": "www.dname.test.", "qtype": "A", "rcode": "NOERROR",
              "answer": [_rr("dname.test.", "DNAME", "example.com."),
                         _rr("www.dname.test.", "CNAME", "www.example.com."),
                         _rr("www.example.com.", "A", "192.0.2.80")]},
}


# ---- Work limits (tests/integration/test_worklimits.py) ---------------------
#
# Zones crafted to make a resolver work hard for one client question, all
# on 127.10.0.0/16 so they stay apart from the rest:
#   nxns.test     the attacker (NSD): delegations whose NS names have no glue
#                 (the NXNSAttack shape) pointing at the victim's zone, at
#                 nonexistent TLDs, or at hosts that never answer; and a
#                 nested form whose NS names lie under such delegations;
#   victim.test   the victim (NSD): empty, so every NS name above is NXDOMAIN
#                 there and every lookup of one is a query the victim serves;
#   cn-a.test, cn-b.test   CNAME chains and loops that alternate between two
#                 servers (NSD, Knot), so every hop is a query of its own;
#   dead.test     host names whose addresses never answer (Knot);
#   deep.test     a chain of 40 zone cuts (badserver "deep": one address per
#                 level, since NSD and Knot answer from the deepest zone they
#                 hold and would skip the cuts in between);
#   alldrop.test  16 name servers with glue, none of which ever answers;
#   slow.test, veryslow.test   servers that answer after 200 ms / 4 s.
WL_FAN = 50            # glue-less NS names in a fan-out referral that fits UDP
WL_FAN_BIG = 1000      # the same at NXNSAttack scale (the referral needs TCP)
WL_NEST = 8            # NS names of nest.nxns.test, each under its own fan-out
WL_NEST3 = 5           # fan-out of each level of nest3.nxns.test (three levels deep)
WL_DROP_ADDRS = [f"127.10.5.{i}" for i in range(1, 17)]
WL_DEEP = 40           # zone cuts below deep.test
WL_DEEP_ADDRS = [f"127.10.3.{i}" for i in range(1, WL_DEEP + 2)]  # level k at [k]
WL_CHAIN_LONG = 24     # CNAME hops of long.cn-a.test (beyond the default 12)
WL_CHAIN_OK = 8        # CNAME hops of ok.cn-a.test (within it)
WL_SLOW_MS, WL_VERYSLOW_MS = 200, 4000

SERVERS.update({
    "attacker":  {"kind": "nsd",  "addrs": ["127.10.0.1"], "zones": ["nxns.test.", "cn-a.test."]},
    "attacker2": {"kind": "knot", "addrs": ["127.10.0.2"], "zones": ["cn-b.test.", "dead.test."]},
    "victim":    {"kind": "nsd",  "addrs": ["127.10.1.1"], "zones": ["victim.test."]},
    "deep":      {"kind": "deep", "addrs": WL_DEEP_ADDRS, "zones": [],
                  "apex": "deep.test.", "depth": WL_DEEP},
    "slow":      {"kind": "slow", "addrs": ["127.10.4.1"], "zones": ["slow.test."],
                  "delay_ms": WL_SLOW_MS},
    "veryslow":  {"kind": "slow", "addrs": ["127.10.4.2"], "zones": ["veryslow.test."],
                  "delay_ms": WL_VERYSLOW_MS},
    "dropmany":  {"kind": "drop", "addrs": WL_DROP_ADDRS, "zones": []},
})


def _wl_cname_chain(prefix, hops, final_a):
    """prefix1.cn-a.test -> prefix2.cn-b.test -> prefix3.cn-a.test ... with
    an A at the end: (records per zone, the expected answer RRs)."""
    recs, answer = {"cn-a.test.": [], "cn-b.test.": []}, []

    def name(i):
        return f"{prefix}{i}.cn-{'a' if i % 2 else 'b'}.test."
    for i in range(1, hops + 1):
        zone = "cn-a.test." if i % 2 else "cn-b.test."
        recs[zone].append((name(i), None, "CNAME", name(i + 1)))
        answer.append(_rr(name(i), "CNAME", name(i + 1)))
    last = "cn-a.test." if (hops + 1) % 2 else "cn-b.test."
    recs[last].append((name(hops + 1), None, "A", final_a))
    answer.append(_rr(name(hops + 1), "A", final_a))
    return recs, answer


_WL_LONG, _ = _wl_cname_chain("long", WL_CHAIN_LONG, "192.0.2.124")
_WL_OK, _WL_OK_ANSWER = _wl_cname_chain("ok", WL_CHAIN_OK, "192.0.2.108")
_WL_EDGE, _WL_EDGE_ANSWER = _wl_cname_chain("edge", 12, "192.0.2.112")   # exactly 12 hops
_WL_OVER, _ = _wl_cname_chain("over", 13, "192.0.2.113")                 # one too many


def _wl_deep_zone(k):
    return "".join(f"d{i}." for i in range(k, 0, -1)) + "deep.test."


ZONE_NS.update({
    "nxns.test.": [("ns.nxns.test.", "127.10.0.1")],
    "victim.test.": [("ns.victim.test.", "127.10.1.1")],
    "cn-a.test.": [("ns.cn-a.test.", "127.10.0.1")],
    "cn-b.test.": [("ns.cn-b.test.", "127.10.0.2")],
    "dead.test.": [("ns.dead.test.", "127.10.0.2")],
    # the NXNSAttack referral: WL_FAN / WL_FAN_BIG names, all NXDOMAIN at the victim
    "fan.nxns.test.": [(f"a{i}.victim.test.", None) for i in range(1, WL_FAN + 1)],
    "fan1000.nxns.test.": [(f"b{i}.victim.test.", None) for i in range(1, WL_FAN_BIG + 1)],
    # NS names in TLDs that do not exist: the roots answer NXDOMAIN for each
    "fanroot.nxns.test.": [(f"ns.x{i}.", None) for i in range(1, WL_FAN + 1)],
    # NS names whose addresses never answer
    "dead.nxns.test.": [(f"h{i}.dead.test.", None) for i in range(1, WL_FAN + 1)],
    # NS names that are themselves under fan-out delegations (nested NXNS)
    "nest.nxns.test.": [(f"x.f{k}.nxns.test.", None) for k in range(1, WL_NEST + 1)],
    "alldrop.test.": [(f"ns{i}.alldrop.test.", a) for i, a in enumerate(WL_DROP_ADDRS, 1)],
    "deep.test.": [("ns.deep.test.", WL_DEEP_ADDRS[0])],
    "slow.test.": [("ns.slow.test.", "127.10.4.1")],
    "veryslow.test.": [("ns.veryslow.test.", "127.10.4.2")],
})
ZONE_NS.update({f"f{k}.nxns.test.": [(f"v{k}-{i}.victim.test.", None) for i in range(1, WL_FAN + 1)]
                for k in range(1, WL_NEST + 1)})
# Three levels: nest3 -> NS x.m{k} (under m{k}) -> NS y.g{k}-{j} (under
# g{k}-{j}) -> NS w{k}-{j}-{i}.victim.test.  Every name distinct, so no
# negative answer cached at one branch spares another.
_R3 = range(1, WL_NEST3 + 1)
ZONE_NS["nest3.nxns.test."] = [(f"x.m{k}.nxns.test.", None) for k in _R3]
ZONE_NS.update({f"m{k}.nxns.test.": [(f"y.g{k}-{j}.nxns.test.", None) for j in _R3]
                for k in _R3})
ZONE_NS.update({f"g{k}-{j}.nxns.test.": [(f"w{k}-{j}-{i}.victim.test.", None) for i in _R3]
                for k in _R3 for j in _R3})

RECORDS.update({
    "nxns.test.": [],
    "victim.test.": [],
    "cn-a.test.": (_WL_LONG["cn-a.test."] + _WL_OK["cn-a.test."] + _WL_EDGE["cn-a.test."] +
                   _WL_OVER["cn-a.test."] +
                   [("loop1", None, "CNAME", "loop2.cn-b.test."),     # loop across zones
                    ("loop3", None, "CNAME", "loop1.cn-a.test.")]),
    "cn-b.test.": (_WL_LONG["cn-b.test."] + _WL_OK["cn-b.test."] + _WL_EDGE["cn-b.test."] +
                   _WL_OVER["cn-b.test."] +
                   [("loop2", None, "CNAME", "loop3.cn-a.test.")]),
    "dead.test.": [(f"h{i}", None, "A", WL_DROP_ADDRS[(i - 1) % len(WL_DROP_ADDRS)])
                   for i in range(1, WL_FAN + 1)],
    "slow.test.": [("www", None, "A", "192.0.2.200")],
    "veryslow.test.": [("www", None, "A", "192.0.2.201")],
})

# Expected results of the crafted questions.  "within" says whether the
# default limits let the resolution finish (a correct answer) or must stop
# it (SERVFAIL).  Kept apart from CASES: those are answers every resolver
# must agree on, while here Unbound's limits differ from rootwalkd's.
WORK_CASES = {
    "nxns_fan": {"qname": "www.fan.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "nxns_fan1000": {"qname": "www.fan1000.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "nxns_fanroot": {"qname": "www.fanroot.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "nxns_dead": {"qname": "www.dead.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "nxns_nest": {"qname": "www.nest.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "nxns_nest3": {"qname": "www.nest3.nxns.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "cname_long": {"qname": "long1.cn-a.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "cname_ok": {"qname": "ok1.cn-a.test.", "qtype": "A", "rcode": "NOERROR",
                 "answer": _WL_OK_ANSWER, "within": True},
    "cname_edge": {"qname": "edge1.cn-a.test.", "qtype": "A", "rcode": "NOERROR",
                   "answer": _WL_EDGE_ANSWER, "within": True},
    "cname_over": {"qname": "over1.cn-a.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "cname_loop": {"qname": "loop1.cn-a.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "deep_20": {"qname": "www." + _wl_deep_zone(20), "qtype": "A", "rcode": "NOERROR",
                "answer": [_rr("www." + _wl_deep_zone(20), "A", "198.51.100.20")],
                "within": True},
    "deep_40": {"qname": "www." + _wl_deep_zone(WL_DEEP), "qtype": "A", "rcode": "SERVFAIL"},
    "alldrop": {"qname": "www.alldrop.test.", "qtype": "A", "rcode": "SERVFAIL"},
    "slow": {"qname": "www.slow.test.", "qtype": "A", "rcode": "NOERROR",
             "answer": [_rr("www.slow.test.", "A", "192.0.2.200")], "within": True},
    "veryslow": {"qname": "www.veryslow.test.", "qtype": "A", "rcode": "SERVFAIL"},
}
