# dnsutil.py — small DNS client helpers shared by the integration tests.
#
# Why it exists: every test asks a resolver something and compares sections
# with the expected data in hier.json; doing that one way keeps the tests
# short and the comparisons identical (TTL ignored, owner case ignored).
import socket
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

TIMEOUT = 15.0   # a resolver gets this long for one answer (cold caches, dead servers)
RETRY = 2.0      # a stub resends an unanswered UDP query after this long


def make_query(qname, qtype="A", rd=True, edns=0, payload=1232):
    q = dns.message.make_query(qname, qtype, use_edns=edns, payload=payload)
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def ask(res, qname, qtype="A", tcp=False, timeout=TIMEOUT, **kw):
    """Send one query to the resolver and return the reply.  Like a stub
    resolver, UDP first and again over TCP if truncated (or TCP only)."""
    q = make_query(qname, qtype, **kw)
    if not tcp:
        r = udp_with_retries(q, res, timeout)
        if not r.flags & dns.flags.TC:
            return r
    return dns.query.tcp(q, res.addr, port=res.port, timeout=timeout)


def udp_with_retries(q, res, timeout=TIMEOUT):
    """Send q over UDP, resending every RETRY seconds as stub resolvers do
    (Unbound drops an answer the client has waited for too long, expecting
    the client to have asked again), until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise dns.exception.Timeout(timeout=timeout)
        try:
            return dns.query.udp(q, res.addr, port=res.port, timeout=min(RETRY, left))
        except (dns.exception.Timeout, BlockingIOError):
            # dnspython raises BlockingIOError instead of Timeout when the
            # time left runs out inside its receive
            if left <= RETRY:
                raise dns.exception.Timeout(timeout=timeout)


def rr_lines(section):
    """RRs of a message section as sorted "owner TYPE rdata" strings."""
    out = []
    for rrset in section:
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        for rd in rrset:
            text = rd.to_text()
            if rrset.rdtype != dns.rdatatype.TXT:
                text = text.lower()
            out.append(f"{rrset.name.to_text().lower()} {rtype} {text}")
    return sorted(out)


def rcode_text(msg):
    return dns.rcode.to_text(msg.rcode())


def summary(msg):
    """What two resolvers must agree on: rcode and the answer RRs."""
    return rcode_text(msg), rr_lines(msg.answer)


def check_case(msg, case):
    """Assert a reply matches an expected case from hier.json."""
    assert rcode_text(msg) == case["rcode"], msg.to_text()
    if "answer" in case:
        assert rr_lines(msg.answer) == sorted(case["answer"]), msg.to_text()
    if "authority_soa" in case:
        soas = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
        assert [r.name.to_text().lower() for r in soas] == [case["authority_soa"]], \
            msg.to_text()


def dig(res, *args, timeout=30):
    """Run dig against the resolver; returns its stdout."""
    cmd = ["dig", "-p", str(res.port), f"@{res.addr}", "+time=2", "+tries=8", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.stdout


def udp_raw(res, payload, timeout=2.0):
    """Send raw bytes over UDP; return the reply bytes or None on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (res.addr, res.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None
