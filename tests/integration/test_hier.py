# test_hier.py — the simulated hierarchy itself behaves as the other tests assume.
#
# Why it exists: when a resolver test fails, the first question is whether
# the hierarchy is right.  These tests talk to the authoritative servers
# directly (no resolver): priming data at every root, the scripted
# misbehaviours, and the query counters that cache tests rely on.
import socket

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import hier


def norec(qname, qtype="A", edns=0):
    q = dns.message.make_query(qname, qtype, use_edns=edns)
    q.flags &= ~dns.flags.RD
    return q


def test_every_root_answers_priming(hier_info):
    names = sorted(n for n, _ in hier_info["roots"])
    for _, addr in hier_info["roots"]:
        r = dns.query.udp(norec(".", "NS"), addr, timeout=2)
        assert r.flags & dns.flags.AA
        assert sorted(rd.target.to_text().lower() for rd in r.answer[0]) == names
        glue = {rrset.name.to_text().lower(): rrset[0].address for rrset in r.additional
                if rrset.rdtype == dns.rdatatype.A}
        assert glue == dict(hier_info["roots"])


def test_hints_file_lists_all_roots(hier_info):
    text = open(hier_info["root_hints"]).read().lower()
    for name, addr in hier_info["roots"]:
        assert f"{name}" in text and addr in text


def test_big_txt_truncates_over_udp_at_the_source(hier_info):
    """NSD must truncate the big TXT at 1232 bytes whatever the client
    offers, or the 'resolver falls back to TCP' tests prove nothing."""
    q = norec(hier_info["cases"]["big_txt"]["qname"], "TXT")
    q.use_edns(0, payload=4096)
    r = dns.query.udp(q, "127.3.0.1", timeout=2)
    assert r.flags & dns.flags.TC
    r = dns.query.tcp(q, "127.3.0.1", timeout=2)
    assert not r.flags & dns.flags.TC and len(r.to_wire()) > 1232


@pytest.mark.parametrize("server,rcode", [("bad-refused", dns.rcode.REFUSED),
                                          ("bad-servfail", dns.rcode.SERVFAIL)])
def test_error_servers(hier_info, server, rcode):
    addr = hier_info["servers"][server]["addrs"][0]
    for send in (dns.query.udp, dns.query.tcp):
        assert send(norec("www.refused.test."), addr, timeout=2).rcode() == rcode


def test_lame_server_refers_upward(hier_info):
    addr = hier_info["servers"]["bad-lame"]["addrs"][0]
    r = dns.query.udp(norec("www.alllame.test."), addr, timeout=2)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA and not r.answer
    assert r.authority[0].name == dns.name.root and r.authority[0].rdtype == dns.rdatatype.NS


def test_tc_server_truncates_udp_answers_tcp(hier_info):
    addr = hier_info["servers"]["bad-tc"]["addrs"][0]
    r = dns.query.udp(norec("www.tconly.test."), addr, timeout=2)
    assert r.flags & dns.flags.TC and not r.answer
    r = dns.query.tcp(norec("WwW.TcOnLy.TeSt."), addr, timeout=2)
    assert r.flags & dns.flags.AA and not r.flags & dns.flags.TC
    assert r.answer[0].name.to_text() == "WwW.TcOnLy.TeSt."   # case echoed
    assert r.answer[0][0].address == "192.0.2.77"


def test_drop_server_never_answers(hier_info):
    addr = hier_info["servers"]["bad-drop"]["addrs"][0]
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(norec("www.dead-first.test."), addr, timeout=0.5)
    with socket.create_connection((addr, 53), timeout=2) as s:
        w = norec("www.dead-first.test.").to_wire()
        s.sendall(len(w).to_bytes(2, "big") + w)
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)


@pytest.mark.parametrize("server", ["example-com", "example-org", "bad-refused"])
def test_query_counters_move(hier_info, server):
    """count() sees every query, per server (NSD, Knot and badserver alike)."""
    addr = hier_info["servers"][server]["addrs"][0]
    before = hier.count(hier_info["dir"])[server]
    dns.query.udp(norec("counted.example.com."), addr, timeout=2)
    dns.query.tcp(norec("counted.example.com."), addr, timeout=2)
    after = hier.count(hier_info["dir"])[server]
    assert after["queries"] - before["queries"] == 2
    assert after["tcp"] - before["tcp"] == 1
