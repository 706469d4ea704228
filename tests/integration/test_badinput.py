# test_badinput.py — hostile and malformed client input.
#
# Why it exists: a resolver faces the whole network.  Garbage, short and
# malformed packets, odd opcodes, classes and EDNS versions, and TCP clients
# that stall or drip must get the right error (or silence) and must never
# stop the resolver from answering everyone else.
import random
import socket
import struct
import time

import dns.message
import dns.opcode
import dns.rcode
import pytest

from dnsutil import ask, check_case, udp_raw, udp_with_retries
from resolvers import option

RCODE = {"FORMERR": 1, "NOTIMP": 4, "REFUSED": 5}


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


def question(name=b"\x03www\x07example\x03com\x00", qtype=1, qclass=1):
    return name + struct.pack("!HH", qtype, qclass)


def reply_rcode(wire):
    assert wire is not None, "no reply"
    assert len(wire) >= 12
    qid, flags = struct.unpack("!HH", wire[:4])
    assert flags & 0x8000, "QR not set"
    return qid, flags & 0xF


def read_reply(sock):
    """One length-prefixed reply from a TCP socket; None if it was closed."""
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
        more = sock.recv(65535)
        if not more:
            assert not buf, "closed in the middle of a reply"
            return None
        buf += more
    return buf[2:]


def assert_still_answers(resolver, cases):
    assert resolver.alive(), "resolver died"
    check_case(ask(resolver, "www.example.com.", "A"), cases["www_a"])


def test_garbage_packets(resolver, cases):
    """Random bytes of many lengths; whatever comes back must be a reply."""
    rnd = random.Random(20240101)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for n in list(range(0, 40)) + [100, 512, 1232, 4000, 65000]:
            s.sendto(bytes(rnd.getrandbits(8) for _ in range(n)), (resolver.addr, resolver.port))
    time.sleep(0.5)
    assert_still_answers(resolver, cases)


def test_truncated_queries(resolver, cases):
    """A good query cut short anywhere: FORMERR or silence, never a crash."""
    good = dns.message.make_query("www.example.com.", "A", use_edns=0).to_wire()
    for cut in range(12, len(good)):
        r = udp_raw(resolver, good[:cut], timeout=0.3)
        if r is not None:
            assert reply_rcode(r)[1] == RCODE["FORMERR"], (cut, r)
    assert_still_answers(resolver, cases)


def test_eleven_bytes_no_answer(resolver, cases):
    """Shorter than a DNS header: nothing to reply to."""
    assert udp_raw(resolver, header()[:11], timeout=1.0) is None
    assert_still_answers(resolver, cases)


@pytest.mark.parametrize("qd", [0, 2])
def test_qdcount_not_one_is_formerr(resolver, qd):
    body = question() * qd
    qid, rcode = reply_rcode(udp_raw(resolver, header(qd=qd) + body))
    assert (qid, rcode) == (0x1234, RCODE["FORMERR"])


def test_compression_loop_is_formerr(resolver):
    loop = b"\xc0\x0c"   # a pointer to itself (offset 12)
    qid, rcode = reply_rcode(udp_raw(resolver, header() + question(name=loop)))
    assert rcode == RCODE["FORMERR"]


def test_oversize_name_is_formerr(resolver):
    name = (b"\x3f" + b"a" * 63) * 5 + b"\x00"   # 321 bytes > 255
    qid, rcode = reply_rcode(udp_raw(resolver, header() + question(name=name)))
    assert rcode == RCODE["FORMERR"]


def _opcode_reply(resolver, opcode):
    q = dns.message.make_query("example.com.", "SOA")
    q.set_opcode(opcode)
    r = udp_with_retries(q, resolver, timeout=5)
    assert r.opcode() == opcode and r.id == q.id
    return r.rcode()


def test_opcode_status_notimp(resolver):
    assert _opcode_reply(resolver, dns.opcode.STATUS) == dns.rcode.NOTIMP


@pytest.mark.rootwalk_only   # Unbound answers NOTIFY with REFUSED
def test_opcode_notify_notimp(resolver):
    assert _opcode_reply(resolver, dns.opcode.NOTIFY) == dns.rcode.NOTIMP


def _ch_txt(resolver, qname):
    q = dns.message.make_query(qname, "TXT", "CH")
    return udp_with_retries(q, resolver, timeout=5).rcode()


def test_class_ch_refused(resolver):
    assert _ch_txt(resolver, "www.example.com.") == dns.rcode.REFUSED


@pytest.mark.rootwalk_only   # Unbound answers version.bind and id.server
def test_class_ch_server_names_refused(resolver):
    for qname in ("version.bind.", "id.server.", "hostname.bind."):
        assert _ch_txt(resolver, qname) == dns.rcode.REFUSED


def test_edns_version_1_badvers(resolver):
    q = dns.message.make_query("www.example.com.", "A")
    q.use_edns(edns=1)
    r = udp_with_retries(q, resolver, timeout=5)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0 and not r.answer


def test_stalled_tcp_clients_do_not_block_others(fresh_resolver, kind, cases):
    """Clients that promise 65535 bytes and go silent, or drip a query one
    byte at a time, neither block other clients nor stay connected forever."""
    r = fresh_resolver(extra=option(kind, "tcp-idle-timeout", 2000))
    stalled = []
    for _ in range(5):
        s = r.tcp_connect()
        s.sendall(b"\xff\xff" + b"\x00" * 10)
        stalled.append(s)
    wire = dns.message.make_query("mail.example.com.", "A").to_wire()
    msg = struct.pack("!H", len(wire)) + wire
    # others are served meanwhile, over UDP and TCP
    check_case(ask(r, "www.example.com.", "A"), cases["www_a"])
    check_case(ask(r, "www.example.com.", "AAAA", tcp=True), cases["www_aaaa"])
    drip = r.tcp_connect()
    try:
        for i in range(0, len(msg), 4):   # ~5 s of dripping
            drip.sendall(msg[i:i + 4])
            time.sleep(0.5)
            check_case(ask(r, "example.com.", "MX", tcp=True), cases["mx"])
        drip.settimeout(10)
        got = read_reply(drip)
        if got is not None:   # answered, rather than cut off
            check_case(dns.message.from_wire(got), cases["mail_a"])
    except (BrokenPipeError, ConnectionResetError):
        pass                  # cut off: fine too
    drip.close()
    # the stalled ones are closed within a bounded time
    for s in stalled:
        s.settimeout(30)
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
        s.close()
    assert r.alive()


def test_after_all_that_still_answers(resolver, cases):
    assert_still_answers(resolver, cases)
    check_case(ask(resolver, "www.example.com.", "A", tcp=True), cases["www_a"])
