#!/usr/bin/python3
# badserver.py — a scripted authoritative server that misbehaves on purpose.
#
# Why it exists: NSD and Knot DNS behave well; resolvers must also cope with
# servers that never answer, always truncate, refuse, fail or hand back lame
# referrals.  One process per mode, UDP and TCP on ADDR port 53:
#
#   drop      never answers (UDP ignored; TCP accepted, read, never answered)
#   tc        UDP: empty answer with TC=1; TCP: proper answer from --zone
#   refused   REFUSED to everything
#   servfail  SERVFAIL to everything
#   lame      NOERROR without AA and an upward referral to the root servers
#
#   badserver.py MODE ADDR [--zone ORIGIN FILE] [--hints FILE] [--count FILE]
#
# --count FILE holds the number of queries received so far (written after
# each one: "QUERIES TCP_QUERIES"), so tests can tell whether a resolver asked at all.
import argparse
import asyncio
import os

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

MODES = ("drop", "tc", "refused", "servfail", "lame")


class Bad:
    def __init__(self, mode, zone=None, hints=None, count_file=None):
        self.mode, self.zone = mode, zone
        self.hints_ns, self.hints_glue = hints or (None, [])
        self.count_file, self.count, self.tcp_count = count_file, 0, 0

    def counted(self, tcp):
        self.count += 1
        self.tcp_count += tcp
        if self.count_file:
            tmp = self.count_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{self.count} {self.tcp_count}\n")
            os.replace(tmp, self.count_file)

    def answer(self, wire, tcp):
        """Return the response bytes for a query, or None for no answer."""
        self.counted(tcp)
        if self.mode == "drop":
            return None
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        if q.flags & dns.flags.QR or len(q.question) != 1:
            return None
        r = dns.message.make_response(q)
        r.flags &= ~dns.flags.RA
        if self.mode == "refused":
            r.set_rcode(dns.rcode.REFUSED)
        elif self.mode == "servfail":
            r.set_rcode(dns.rcode.SERVFAIL)
        elif self.mode == "lame":
            self.lame_referral(r)
        elif self.mode == "tc" and not tcp:
            r.flags |= dns.flags.TC | dns.flags.AA
        else:
            self.from_zone(q, r)
        return r.to_wire()

    def lame_referral(self, r):
        """An upward referral ("ask the root"): lame by definition."""
        r.authority.append(self.hints_ns)
        r.additional.extend(self.hints_glue)

    def from_zone(self, q, r):
        """Answer authoritatively from the zone (no CNAME chasing needed)."""
        qname, qtype = q.question[0].name, q.question[0].rdtype
        z = self.zone
        if z is None or not qname.is_subdomain(z.origin):
            r.set_rcode(dns.rcode.REFUSED)
            return
        r.flags |= dns.flags.AA
        node = z.get_node(qname)
        soa = z.find_rrset(z.origin, dns.rdatatype.SOA)
        if node is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(soa)
            return
        rds = node.get_rdataset(dns.rdataclass.IN, qtype)
        if rds is None:
            r.authority.append(soa)
            return
        # owner spelled as the question spelled it (0x20-safe)
        rrset = dns.rrset.RRset(qname, dns.rdataclass.IN, qtype)
        rrset.update(rds)
        r.answer.append(rrset)


class Udp(asyncio.DatagramProtocol):
    def __init__(self, bad):
        self.bad = bad

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        out = self.bad.answer(data, tcp=False)
        if out is not None:
            self.transport.sendto(out, addr)


async def tcp_client(bad, reader, writer):
    try:
        while True:
            hdr = await reader.readexactly(2)
            wire = await reader.readexactly(int.from_bytes(hdr, "big"))
            out = bad.answer(wire, tcp=True)
            if out is not None:
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def load_hints(path):
    """NS and A records of the root from a named.root file."""
    z = dns.zone.from_file(path, origin=dns.name.root, relativize=False,
                           check_origin=False)
    ns = z.find_rrset(dns.name.root, dns.rdatatype.NS)
    glue = [z.find_rrset(rd.target, dns.rdatatype.A) for rd in ns]
    return ns, glue


async def main():
    ap = argparse.ArgumentParser(description="misbehaving DNS server")
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("addr")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--zone", nargs=2, metavar=("ORIGIN", "FILE"))
    ap.add_argument("--hints")
    ap.add_argument("--count")
    a = ap.parse_args()
    zone = None
    if a.zone:
        zone = dns.zone.from_file(a.zone[1], origin=a.zone[0], relativize=False)
    if a.mode == "lame" and not a.hints:
        ap.error("lame needs --hints")
    hints = load_hints(a.hints) if a.mode == "lame" else None
    bad = Bad(a.mode, zone, hints, a.count)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Udp(bad), local_addr=(a.addr, a.port))
    server = await asyncio.start_server(lambda r, w: tcp_client(bad, r, w), a.addr, a.port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
