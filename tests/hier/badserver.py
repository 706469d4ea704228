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
#   slow      proper answers from --zone, each sent --delay ms late
#   deep      a chain of --depth zone cuts below --apex, one per address:
#             on the k-th address (from 0) it is authoritative for
#             dk.d(k-1)...d1.APEX and refers d(k+1) to the (k+1)-th address.
#             NSD and Knot answer from the deepest zone they hold, so a
#             chain of cuts on few servers would skip levels; this does not.
#
#   badserver.py MODE ADDR[,ADDR...] [--zone ORIGIN FILE] [--hints FILE]
#                [--count FILE] [--delay MS] [--apex NAME --depth N]
#
# Several addresses (comma-separated) are one server listening on each.
#
# --count FILE holds the number of queries received so far (written after
# each one: "QUERIES TCP_QUERIES"), so tests can tell whether a resolver asked at all.
import argparse
import asyncio
import os
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

MODES = ("drop", "tc", "refused", "servfail", "lame", "slow", "deep")
DEEP_TTL = 3600


class Bad:
    def __init__(self, mode, zone=None, hints=None, count_file=None, delay_ms=0,
                 apex=None, depth=0, addrs=()):
        self.mode, self.zone = mode, zone
        self.hints_ns, self.hints_glue = hints or (None, [])
        self.count_file, self.count, self.tcp_count = count_file, 0, 0
        self.delay = delay_ms / 1000.0
        self.apex, self.depth, self.addrs = apex, depth, list(addrs)

    def counted(self, tcp):
        self.count += 1
        self.tcp_count += tcp
        if self.count_file:
            tmp = self.count_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{self.count} {self.tcp_count}\n")
            os.replace(tmp, self.count_file)

    def answer(self, wire, tcp, local=None):
        """Return the response bytes for a query that arrived on address
        local, or None for no answer."""
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
        elif self.mode == "deep":
            self.deep_level(q, r, self.addrs.index(local) if local in self.addrs else 0)
        else:
            self.from_zone(q, r)
        return r.to_wire()

    def lame_referral(self, r):
        """An upward referral ("ask the root"): lame by definition."""
        r.authority.append(self.hints_ns)
        r.additional.extend(self.hints_glue)

    def deep_zone(self, k):
        """The zone served on address k: dk.d(k-1)...d1.APEX (APEX for 0)."""
        return dns.name.Name(tuple(b"d%d" % i for i in range(k, 0, -1)) + self.apex.labels)

    def deep_level(self, q, r, k):
        """Answer as the server of level k of the chain: refer the next
        level down, or answer for the zone's own names (www, ns, apex)."""
        qname, qtype = q.question[0].name, q.question[0].rdtype
        zone = self.deep_zone(k)
        if not qname.is_subdomain(zone):
            r.set_rcode(dns.rcode.REFUSED)
            return
        rel = [label.lower() for label in qname.relativize(zone).labels]
        if k < self.depth and rel and rel[-1] == b"d%d" % (k + 1):
            child = self.deep_zone(k + 1)
            ns = dns.name.Name((b"ns",) + child.labels)
            r.authority.append(dns.rrset.from_text(child, DEEP_TTL, "IN", "NS", ns.to_text()))
            r.additional.append(dns.rrset.from_text(ns, DEEP_TTL, "IN", "A",
                                                    self.addrs[k + 1]))
            return
        r.flags |= dns.flags.AA
        ns = dns.name.Name((b"ns",) + zone.labels)
        soa = dns.rrset.from_text(zone, DEEP_TTL, "IN", "SOA",
                                  f"{ns} hostmaster.{zone} 2024010101 3600 900 604800 300")
        data = {(): {dns.rdatatype.SOA: [soa[0].to_text()], dns.rdatatype.NS: [ns.to_text()]},
                (b"www",): {dns.rdatatype.A: [f"198.51.100.{k}"]},
                (b"ns",): {dns.rdatatype.A: [self.addrs[k]]}}.get(tuple(rel))
        if data is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(soa)
        elif qtype in data:
            r.answer.append(dns.rrset.from_text_list(qname, DEEP_TTL, "IN", qtype, data[qtype]))
        else:
            r.authority.append(soa)

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
    def __init__(self, bad, local):
        self.bad, self.local = bad, local

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        out = self.bad.answer(data, tcp=False, local=self.local)
        if out is None:
            return
        if self.bad.delay:   # late, but the query is remembered as it came
            asyncio.get_running_loop().call_later(self.bad.delay, self.transport.sendto,
                                                  out, addr)
        else:
            self.transport.sendto(out, addr)


async def tcp_client(bad, local, reader, writer):
    try:
        while True:
            hdr = await reader.readexactly(2)
            wire = await reader.readexactly(int.from_bytes(hdr, "big"))
            start = time.monotonic()
            out = bad.answer(wire, tcp=True, local=local)
            if out is not None:
                await asyncio.sleep(max(0.0, bad.delay - (time.monotonic() - start)))
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
    ap.add_argument("addr", help="ADDR or ADDR,ADDR,...")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--zone", nargs=2, metavar=("ORIGIN", "FILE"))
    ap.add_argument("--hints")
    ap.add_argument("--count")
    ap.add_argument("--delay", type=int, default=0, help="ms before each answer (slow)")
    ap.add_argument("--apex", help="deep: the zone at the top of the chain")
    ap.add_argument("--depth", type=int, default=0, help="deep: zone cuts below --apex")
    a = ap.parse_args()
    addrs = a.addr.split(",")
    zone = None
    if a.zone:
        zone = dns.zone.from_file(a.zone[1], origin=a.zone[0], relativize=False)
    if a.mode == "lame" and not a.hints:
        ap.error("lame needs --hints")
    if a.mode == "deep" and (not a.apex or len(addrs) != a.depth + 1):
        ap.error("deep needs --apex and one address per level (--depth + 1)")
    hints = load_hints(a.hints) if a.mode == "lame" else None
    apex = dns.name.from_text(a.apex) if a.apex else None
    bad = Bad(a.mode, zone, hints, a.count, a.delay, apex, a.depth, addrs)
    loop = asyncio.get_running_loop()
    servers = []
    for addr in addrs:
        await loop.create_datagram_endpoint(lambda addr=addr: Udp(bad, addr),
                                            local_addr=(addr, a.port))
        servers.append(await asyncio.start_server(
            lambda r, w, addr=addr: tcp_client(bad, addr, r, w), addr, a.port))
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
