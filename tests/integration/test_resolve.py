# test_resolve.py — the resolver resolves, through the whole simulated hierarchy.
#
# Why it exists: these are the acceptance tests of the resolver issue.  Each
# expected answer comes from hier.json (tests/hier/topology.py CASES): record
# types at several depths, glue-less delegation, CNAME chains across zones,
# CNAME loops, four zone cuts, negative answers, truncation and TCP, dead,
# truncating and lame servers, 0x20-style mixed case, TCP pipelining, load,
# header flags, and finally the same answers as Unbound for every case.
import concurrent.futures
import socket
import struct

import dns.flags
import dns.message
import dns.rdatatype
import pytest

import hier
import topology
from dnsutil import (ask, check_case, dig, make_query, rcode_text, rr_lines, summary,
                     udp_with_retries)

CASE_NAMES = sorted(topology.CASES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(resolver, cases, name):
    """Every expected answer of the hierarchy, over UDP."""
    c = cases[name]
    check_case(ask(resolver, c["qname"], c["qtype"]), c)


@pytest.mark.parametrize("name", ["www_a", "cname_cross3", "nxdomain", "four_cuts", "big_txt"])
def test_case_over_tcp(resolver, cases, name):
    c = cases[name]
    r = ask(resolver, c["qname"], c["qtype"], tcp=True)
    assert not r.flags & dns.flags.TC
    check_case(r, c)


def test_header_flags(resolver):
    """RA set, AA clear, QR set, ID and RD echoed, question echoed."""
    q = make_query("www.example.com.", "A")
    r = udp_with_retries(q, resolver)
    assert r.id == q.id
    assert r.flags & dns.flags.QR and r.flags & dns.flags.RA and r.flags & dns.flags.RD
    assert not r.flags & dns.flags.AA
    assert r.question == q.question
    q = make_query("www.example.com.", "A", rd=False)   # cached by now
    r = udp_with_retries(q, resolver)
    assert r.id == q.id and not r.flags & dns.flags.RD
    assert r.flags & dns.flags.QR and r.flags & dns.flags.RA


def test_negative_answers_carry_soa_ttl(resolver, hier_info):
    """The SOA of an NXDOMAIN/NODATA answer lives no longer than its minimum."""
    for qname, qtype in (("nonexistent2.example.com.", "A"), ("nodata.example.com.", "MX")):
        r = ask(resolver, qname, qtype)
        soa = [s for s in r.authority if s.rdtype == dns.rdatatype.SOA]
        assert soa and soa[0].ttl <= hier_info["soa_minimum"], r.to_text()


def test_dig_short(resolver):
    """What a user types: dig +short."""
    assert dig(resolver, "+short", "www.example.com", "A").split() == ["192.0.2.80"]
    assert dig(resolver, "+short", "alias.example.com", "A").split() == \
        ["www.example.org.", "192.0.2.180"]


def dig_flags(out):
    """The header flags dig printed (";; flags: qr tc rd ra; QUERY: ...")."""
    line = [ln for ln in out.splitlines() if ln.startswith(";; flags:")][-1]
    return line.split(":", 1)[1].split(";")[0].split()


def test_big_txt_truncates_small_udp(resolver, hier_info, cases):
    """An answer over the client's UDP size comes back with TC set; dig then
    retries over TCP and gets it whole."""
    c = cases["big_txt"]
    q = make_query(c["qname"], "TXT", payload=512)
    r = udp_with_retries(q, resolver)
    assert r.flags & dns.flags.TC
    assert r.id == q.id and rcode_text(r) == "NOERROR"
    r = udp_with_retries(make_query(c["qname"], "TXT", edns=-1), resolver)
    assert r.flags & dns.flags.TC      # no EDNS: 512 bytes at most
    out = dig(resolver, "+bufsize=512", "+ignore", c["qname"], "TXT")
    assert "tc" in dig_flags(out), out
    out = dig(resolver, "+bufsize=512", c["qname"], "TXT")   # dig retries over TCP
    assert "tc" not in dig_flags(out), out
    assert all(s in out for s in hier_info["big_txt"]), out


def test_big_txt_goes_upstream_over_tcp(fresh_resolver, hier_info, cases):
    """The upstream answer is truncated (> 1232 bytes); the resolver must
    re-ask over TCP: the example.com servers' TCP counters move."""
    before = hier.count(hier_info["dir"])["example-com"]["tcp"]
    r = fresh_resolver()
    check_case(ask(r, cases["big_txt"]["qname"], "TXT", tcp=True), cases["big_txt"])
    assert hier.count(hier_info["dir"])["example-com"]["tcp"] > before


def test_tc_only_server_is_asked_over_tcp(fresh_resolver, hier_info, cases):
    before = hier.count(hier_info["dir"])["bad-tc"]["tcp"]
    check_case(ask(fresh_resolver(), "www.tconly.test.", "A"), cases["tc_only"])
    assert hier.count(hier_info["dir"])["bad-tc"]["tcp"] > before


def test_mixed_case_question_is_echoed(resolver):
    """The reply's question and answer owner are spelled as the client spelled."""
    for qname, owner_in_zone in (("WwW.ExAmPlE.cOm.", "www"), ("mIxEd.EXAMPLE.com.", "MiXeD"),
                                 ("ALIAS.example.COM.", "alias")):
        q = make_query(qname, "A")
        r = udp_with_retries(q, resolver)
        assert r.question[0].name.to_text() == qname
        assert r.answer and r.answer[0].name.to_text() == qname, r.to_text()


def test_tcp_client(resolver):
    out = dig(resolver, "+tcp", "+short", "www.d.c.b.a.test", "A")
    assert out.split() == ["192.0.2.44"]


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def test_tcp_pipelined_queries(resolver, cases):
    """Several queries written at once on one connection all get answers
    (in any order), matched by ID."""
    names = ["www_a", "www_aaaa", "mx", "txt", "cname_cross", "nxdomain", "glueless",
             "wildcard", "four_cuts", "big_txt"]
    queries = {}
    for i, n in enumerate(names):
        q = make_query(cases[n]["qname"], cases[n]["qtype"])
        q.id = 1000 + i
        queries[q.id] = (q, cases[n])
    wire = b"".join(struct.pack("!H", len(w)) + w
                    for w in (q.to_wire() for q, _ in queries.values()))
    with resolver.tcp_connect(timeout=20) as s:
        s.sendall(wire)
        for _ in range(len(queries)):
            ln = struct.unpack("!H", _read_exact(s, 2))[0]
            r = dns.message.from_wire(_read_exact(s, ln))
            q, c = queries.pop(r.id)
            assert r.question == q.question
            check_case(r, c)
    assert not queries


def test_parallel_queries(resolver):
    """250 different names at once (each a cache miss), every one right."""
    def one(i):
        name = f"p{i}.wild.test."
        r = ask(resolver, name, "A", timeout=30)
        return rcode_text(r), rr_lines(r.answer), name
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as ex:
        results = list(ex.map(one, range(250)))
    for rcode, answer, name in results:
        assert (rcode, answer) == ("NOERROR", [f"{name} A 127.9.9.9"])


def test_after_everything_still_answers_udp(resolver, cases):
    check_case(ask(resolver, "www.example.com.", "A"), cases["www_a"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        assert s.connect_ex((resolver.addr, resolver.port)) == 0


@pytest.mark.parametrize("name", CASE_NAMES)
def test_same_as_unbound(resolver, reference, cases, name):
    """Acceptance: rcode and answer RRsets equal Unbound's (TTLs ignored)."""
    c = cases[name]
    mine = summary(ask(resolver, c["qname"], c["qtype"]))
    ref = summary(ask(reference, c["qname"], c["qtype"]))
    assert mine == ref
