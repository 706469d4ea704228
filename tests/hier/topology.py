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
