#!/usr/bin/python3
"""gen.py — writes the seed corpora in fuzz/corpus/<target>/.

Why a script: the seeds are binary DNS messages and Ethernet frames; this
says what each one is and regenerates them byte-identically.  Needs
dnspython (Debian: python3-dnspython; run with /usr/bin/python3).
Run from anywhere:  /usr/bin/python3 fuzz/corpus/gen.py
"""
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def q(name, rtype='A', rd=True, edns=-1, payload=1232, do=False, options=None, qid=0x1234):
    m = dns.message.make_query(name, rtype, use_edns=edns, payload=payload,
                               want_dnssec=do, options=options)
    m.id = qid
    if not rd:
        m.flags &= ~dns.flags.RD
    return m.to_wire()


# ---- fuzz_query: what clients send ------------------------------------

def gen_query():
    t = 'query'
    write(t, 'a_rd', q('www.example.com.'))
    write(t, 'aaaa_edns_do', q('www.example.com.', 'AAAA', edns=0, payload=4096, do=True))
    write(t, 'mx_norecurse', q('example.com.', 'MX', rd=False))
    write(t, 'mixed_case_0x20', q('wWw.ExAmPlE.cOm.', 'A'))
    write(t, 'edns_small_payload', q('example.org.', 'TXT', edns=0, payload=100))
    write(t, 'edns_options', q('example.org.', 'A', edns=0, options=[
        dns.edns.GenericOption(10, b'\x01\x02\x03\x04\x05\x06\x07\x08'),   # cookie
        dns.edns.GenericOption(8, b'\x00\x01\x18\x00\xc0\x00\x02')]))       # ECS
    write(t, 'badvers', q('example.com.', 'A', edns=1))
    write(t, 'root_ns', q('.', 'NS'))
    write(t, 'any', q('example.com.', 'ANY'))
    write(t, 'axfr', q('example.com.', 'AXFR'))
    write(t, 'chaos', dns.message.make_query('version.bind.', 'TXT', 'CH').to_wire())
    write(t, 'long_name', q('.'.join(['a' * 63] * 3 + ['b' * 61]) + '.'))
    m = dns.message.make_query('example.com.', 'A')
    m.set_opcode(dns.opcode.NOTIFY)
    write(t, 'notify', m.to_wire())
    base = q('www.example.com.')
    write(t, 'qdcount0', base[:4] + b'\x00\x00' + base[6:12])
    write(t, 'qdcount2', base[:4] + b'\x00\x02' + base[6:] + base[12:])
    write(t, 'ancount1', base[:6] + b'\x00\x01' + base[8:])
    write(t, 'truncated_question', base[:20])
    write(t, 'short_header', base[:11])
    write(t, 'response_qr', base[:2] + bytes([base[2] | 0x80]) + base[3:])
    # question name is a pointer into the header, and a self-loop
    write(t, 'pointer_into_header', base[:12] + b'\xc0\x02\x00\x01\x00\x01')
    write(t, 'pointer_loop', base[:12] + b'\xc0\x0c\x00\x01\x00\x01')
    # two OPT records
    e = q('example.com.', 'A', edns=0)
    opt = e[-11:]
    write(t, 'two_opt', e[:10] + b'\x00\x02' + e[12:] + opt)
    # OPT with an option length running past the RDATA
    write(t, 'opt_bad_option', e[:-2] + b'\x00\x04' + b'\x00\x0a\x00\x09')
    # OPT not at the root
    write(t, 'opt_not_root', e[:-11] + b'\x01x\x00' + opt[1:])
    # unknown record (TSIG-like) after the OPT, trailing garbage
    write(t, 'additional_tsig_trailing', e[:10] + b'\x00\x02' + e[12:] +
          b'\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x02\xab\xcd' + b'garbage')


# ---- fuzz_response: what authoritative servers answer ----------------

QTYPES = ['A', 'AAAA', 'NS', 'DS', 'CNAME', 'MX', 'TXT', 'ANY']


def mode(scenario, qtype='A', apex=False, no_ip6=False, dump=False):
    """First byte of a fuzz_response input; dump: also check cache dump/load."""
    return bytes([scenario | QTYPES.index(qtype) << 2 | (0x20 if apex else 0) |
                  (0x40 if no_ip6 else 0) | (0x80 if dump else 0)])


def reply(qname, qtype, aa=True, rcode=0, answer=(), authority=(), additional=(),
          edns=False, tc=False):
    m = dns.message.make_query(qname, qtype, use_edns=0 if edns else -1)
    r = dns.message.make_response(m)
    r.flags |= dns.flags.QR
    if aa:
        r.flags |= dns.flags.AA
    else:
        r.flags &= ~dns.flags.AA
    if tc:
        r.flags |= dns.flags.TC
    r.set_rcode(rcode)
    for sec, rrs in ((r.answer, answer), (r.authority, authority),
                     (r.additional, additional)):
        for text in rrs:
            parts = text.split(None, 4)
            rr = dns.rrset.from_text(parts[0], int(parts[1]), parts[2], parts[3], parts[4])
            found = None
            for s in sec:
                if s.name == rr.name and s.rdtype == rr.rdtype:
                    found = s
            if found:
                found.union_update(rr)
            else:
                sec.append(rr)
    return r.to_wire()


def rec(msg, ctl=0):
    return bytes([ctl]) + struct.pack('!H', len(msg)) + msg


TIMEOUT = b'\x01'
SOA_EX = 'example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300'
ROOT_NS = ['. 518400 IN NS a.root-servers.net.', '. 518400 IN NS b.root-servers.net.']
ROOT_GLUE = ['a.root-servers.net. 518400 IN A 192.0.2.1',
             'a.root-servers.net. 518400 IN AAAA 2001:db8::1',
             'b.root-servers.net. 518400 IN A 192.0.2.2']
COM_REF = dict(aa=False, authority=['com. 172800 IN NS a.gtld.com.'],
               additional=['a.gtld.com. 172800 IN A 192.0.2.10'])
EX_REF = dict(aa=False, authority=['example.com. 172800 IN NS ns1.example.com.'],
              additional=['ns1.example.com. 172800 IN A 192.0.2.53'])
WWW = 'www.example.com.'


def gen_response():
    t = 'response'
    write(t, 'warm_answer', mode(2) + rec(reply(WWW, 'A', answer=[
        'www.example.com. 300 IN A 192.0.2.80'])))
    write(t, 'warm_nxdomain_soa', mode(2, dump=True) + rec(reply(WWW, 'A', rcode=3, authority=[SOA_EX])))
    write(t, 'warm_nodata_soa', mode(2, 'AAAA') + rec(reply(WWW, 'AAAA', authority=[SOA_EX])))
    write(t, 'warm_cname_chain', mode(2) + rec(reply(WWW, 'A', answer=[
        'www.example.com. 300 IN CNAME alias.example.com.',
        'alias.example.com. 300 IN CNAME web.example.com.',
        'web.example.com. 300 IN A 192.0.2.81'])))
    # out-of-zone CNAME with a poisoned A for the target; then the target
    # is resolved from the root
    write(t, 'cname_out_of_zone', mode(2) +
          rec(reply(WWW, 'A', answer=['www.example.com. 300 IN CNAME www.example.net.',
                                      'www.example.net. 300 IN A 6.6.6.6'],
                    authority=['net. 300 IN NS evil.example.com.'],
                    additional=['evil.example.com. 300 IN A 6.6.6.7'])) +
          rec(reply('www.example.net.', 'A', aa=False,
                    authority=['net. 172800 IN NS a.gtld.net.'],
                    additional=['a.gtld.net. 172800 IN A 192.0.2.11'])) +
          rec(reply('www.example.net.', 'A', answer=['www.example.net. 300 IN A 192.0.2.90'])))
    write(t, 'referral_then_answer', mode(2) +
          rec(reply(WWW, 'A', aa=False,
                    authority=['www.example.com. 3600 IN NS ns.www.example.com.'],
                    additional=['ns.www.example.com. 3600 IN A 192.0.2.54',
                                'a.root-servers.net. 3600 IN A 6.6.6.6'])) +
          rec(reply(WWW, 'A', answer=['www.example.com. 60 IN A 192.0.2.82'])))
    write(t, 'cold_full_walk', mode(0, dump=True) +
          rec(reply('.', 'NS', answer=ROOT_NS, additional=ROOT_GLUE)) +
          rec(reply(WWW, 'A', **COM_REF)) +
          rec(reply(WWW, 'A', **EX_REF)) +
          rec(reply(WWW, 'A', answer=['www.example.com. 300 IN A 192.0.2.80'])))
    write(t, 'root_cached_walk', mode(1, 'MX') +
          rec(reply(WWW, 'MX', **COM_REF)) +
          rec(reply(WWW, 'MX', **EX_REF)) +
          rec(reply(WWW, 'MX', answer=['www.example.com. 300 IN MX 10 mail.example.com.'],
                    additional=['mail.example.com. 300 IN A 192.0.2.25'])))
    write(t, 'glueless_ns', mode(3) +
          rec(reply('ns.example.net.', 'A', aa=False,
                    authority=['net. 172800 IN NS a.gtld.net.'],
                    additional=['a.gtld.net. 172800 IN A 192.0.2.11'])) +
          rec(reply('ns.example.net.', 'A', aa=False,
                    authority=['example.net. 172800 IN NS ns.example.net.'],
                    additional=['ns.example.net. 172800 IN A 192.0.2.60'])) +
          rec(reply('ns.example.net.', 'A', answer=['ns.example.net. 3600 IN A 192.0.2.60'])) +
          rec(reply(WWW, 'A', answer=['www.example.com. 300 IN A 192.0.2.80'])))
    write(t, 'dname', mode(2) + rec(reply(WWW, 'A', answer=[
        'example.com. 300 IN DNAME example.org.',
        'www.example.com. 300 IN CNAME www.example.org.'])) +
        rec(reply('www.example.org.', 'A', aa=False,
                  authority=['org. 172800 IN NS a.gtld.org.'],
                  additional=['a.gtld.org. 172800 IN A 192.0.2.12'])))
    write(t, 'lame_upward', mode(2) +
          rec(reply(WWW, 'A', aa=False, authority=ROOT_NS, additional=ROOT_GLUE)) +
          rec(reply(WWW, 'A', answer=['www.example.com. 300 IN A 192.0.2.80'])))
    write(t, 'servfail_timeout_answer', mode(2) +
          rec(reply(WWW, 'A', rcode=2)) + TIMEOUT +
          rec(reply(WWW, 'A', answer=['www.example.com. 300 IN A 192.0.2.80'])))
    write(t, 'refused', mode(2) + rec(reply(WWW, 'A', rcode=5)) + TIMEOUT + TIMEOUT)
    write(t, 'poison_additional', mode(2, dump=True) + rec(reply(WWW, 'A', answer=[
        'www.example.com. 300 IN A 192.0.2.80'],
        authority=['com. 300 IN NS ns1.example.com.', '. 300 IN NS ns1.example.com.'],
        additional=['ns1.example.com. 300 IN A 192.0.2.53',
                    'a.gtld.com. 300 IN A 6.6.6.6', 'a.root-servers.net. 300 IN A 6.6.6.6'])))
    write(t, 'nxdomain_foreign_soa', mode(2) + rec(reply(WWW, 'A', rcode=3, authority=[
        '. 3600 IN SOA a.root-servers.net. nstld. 1 1800 900 604800 86400'])))
    write(t, 'nxdomain_after_chain', mode(2) + rec(reply(WWW, 'A', rcode=3, answer=[
        'www.example.com. 300 IN CNAME gone.example.net.'], authority=[SOA_EX])))
    write(t, 'signed_answer_edns', mode(2, dump=True) + rec(reply(WWW, 'A', edns=True, answer=[
        'www.example.com. 300 IN A 192.0.2.80',
        'www.example.com. 300 IN RRSIG A 8 3 300 20300101000000 20200101000000 1 '
        'example.com. AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
        authority=['example.com. 3600 IN NS ns1.example.com.'])))
    write(t, 'ds_at_apex', mode(1, 'DS', apex=True) +
          rec(reply('example.com.', 'DS', **COM_REF)) +
          rec(reply('example.com.', 'DS', answer=[
              'example.com. 3600 IN DS 12345 8 2 '
              '0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF'])))
    write(t, 'any_apex', mode(2, 'ANY', apex=True, dump=True) + rec(reply('example.com.', 'ANY', answer=[
        SOA_EX, 'example.com. 3600 IN NS ns1.example.com.',
        'example.com. 3600 IN TXT "v=spf1 -all"'])))
    write(t, 'odd_records_dump', mode(2, 'ANY', dump=True) + rec(reply(WWW, 'ANY', answer=[
        'www.example.com. 300 IN TYPE65400 \\# 3 010203',
        'www.example.com. 300 IN TXT "a\\"b" "semi;colon" "\\010"',
        'www.example.com. 300 IN CAA 0 issue "ca.example.net"',
        'www.example.com. 300 IN SRV 0 0 53 a\\.b.example.com.'])))
    write(t, 'cname_loop', mode(2) + rec(reply(WWW, 'A', answer=[
        'www.example.com. 300 IN CNAME a.example.com.',
        'a.example.com. 300 IN CNAME www.example.com.'])))
    write(t, 'truncated_flag', mode(2, no_ip6=True) + rec(reply(WWW, 'A', tc=True)) + TIMEOUT)
    write(t, 'wrong_question_kept', mode(2) + rec(reply('www.example.org.', 'A', answer=[
        'www.example.org. 300 IN A 6.6.6.6']), ctl=2))


# ---- fuzz_config ------------------------------------------------------

def gen_config():
    t = 'config'
    root = os.path.dirname(os.path.dirname(HERE))
    for name in ('rootwalkd.conf', 'local.conf'):
        p = os.path.join(root, 'conf', name)
        if os.path.exists(p):
            with open(p, 'rb') as f:
                data = f.read()
            write(t, 'conf_' + name.replace('.', '_'), data)
            # the same with every setting uncommented
            lines = []
            for line in data.decode().splitlines():
                s = line.lstrip()
                if s.startswith('# ') and ':' in s and not s.startswith('# -'):
                    lines.append('\t' + s[2:])
                else:
                    lines.append(line)
            write(t, 'uncommented_' + name.replace('.', '_'), '\n'.join(lines) + '\n')
    write(t, 'listen_acl', 'server:\n  listen: 127.0.0.1@5353\n  listen: ::1\n'
          '  access-control: 10.0.0.0/8 allow\n  access-control: ::/0 refuse\n'
          '  access-control: 192.0.2.0/24 deny\n')
    write(t, 'sizes', 'cache-size: 64m\nmax-udp-size: 1232\ninfra-cache-size: 10000\n'
          'cache-max-ttl: 86400\ncache-min-ttl: 0\n')
    write(t, 'quotes_comments', 'username: ""\npidfile: "/run/x # not a comment"\n'
          'root-hints: "/usr/share/rootwalk/root.hints"  # trailing\n')
    write(t, 'raw_mode', 'mode: raw\nraw-interface: tap0\nraw-address: 198.18.0.2/24\n'
          'raw-gateway: 198.18.0.1\nraw-mac: 02:00:00:00:00:02\nraw-mtu: 1500\n')
    write(t, 'serve_expired', 'serve-expired: yes\nserve-expired-window: 86400\n'
          'serve-expired-client-timeout: 1800\nprefetch: yes\n')
    write(t, 'limits', 'max-referrals: 30\nmax-cname-chain: 12\nmax-glueless-ns: 4\n'
          'max-upstream-queries: 64\nmax-subquery-depth: 4\nquery-timeout: 10000\n')
    write(t, 'err_unknown_key', 'no-such-key: 1\n')
    write(t, 'err_min_over_max', 'cache-min-ttl: 100\ncache-max-ttl: 10\n')
    write(t, 'err_unterminated_quote', 'username: "root\n')
    write(t, 'err_bad_size', 'cache-size: 12q\n')
    write(t, 'err_bad_prefix', 'access-control: 10.0.0.0/33 allow\n')
    write(t, 'crlf_lines', 'verbosity: 2\r\ndo-ip6: no\r\n')


# ---- fuzz_control -----------------------------------------------------

DUMP = (';!rootwalk-dump version=1 time=1700000000 entries=3\n'
        '; comment\n'
        ';!rrset trust=answer-auth rrs=2 sigs=1\n'
        'load.example.com.\t3600\tIN\tA\t192.0.2.1\n'
        'load.example.com.\t3600\tIN\tA\t192.0.2.2\n'
        'load.example.com.\t3600\tIN\tRRSIG\tA 8 3 3600 20300101000000 20200101000000 1 '
        'example.com. AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'
        ';!negative nxdomain nx.example.com. IN -\n'
        ';!soa ' + SOA_EX + '\n'
        ';!negative nodata load.example.com. IN MX\n'
        ';!soa ' + SOA_EX + '\n')


def gen_control():
    t = 'control'
    for name, text in [
            ('status', 'status\n'), ('status_json', 'json status\n'),
            ('stats', 'stats\n'), ('stats_reset_prom', 'stats --reset --prometheus\n'),
            ('stats_json', 'stats --json\n'), ('help', 'help\n'),
            ('lookup', 'cache lookup www.example.com\n'),
            ('lookup_type', 'cache lookup www.example.com A\n'),
            ('lookup_json_nx', 'json cache lookup x.gone.example.com\n'),
            ('lookup_escaped', 'cache lookup a\\032b.example.com. TYPE65400\n'),
            ('flush', 'cache flush www.example.com A\ncache lookup www.example.com\n'),
            ('flush_zone', 'cache flush-zone example.com\ncache dump\n'),
            ('flush_all', 'cache flush-all\nstats\n'),
            ('flush_infra', 'flush-infra 192.0.2.53\nflush-infra all\nflush-infra ::1@53\n'),
            ('verbosity', 'verbosity\nverbosity 3\nverbosity 9\n'),
            ('reload_stop', 'reload\nstop\n'),
            ('dump', 'cache dump\n'), ('dump_json', 'json cache dump\n'),
            ('errors', 'nonsense\ncache nonsense\n\n\r\n' + ' '.join(['w'] * 20) + '\n'),
            ('pipelined_crlf', 'status\r\nhelp\r\ncache lookup ok.\r\n')]:
        write(t, name, text)
    write(t, 'load', 'cache load /tmp/dump\ncache lookup load.example.com\n\0' + DUMP)
    write(t, 'load_json', 'json cache load /x\n\0' + DUMP)
    write(t, 'load_errors', 'cache load /x\n\0' + ';!rrset trust=bogus rrs=1 sigs=0\n')
    write(t, 'load_short_entry', 'cache load /x\n\0' + ';!rrset trust=glue rrs=2 sigs=0\n'
          'a.example. 60 IN A 192.0.2.1\n;!negative\n')
    write(t, 'load_relative', 'cache load relative/path\n')


# ---- fuzz_frame -------------------------------------------------------

US_MAC = bytes([2, 0, 0, 0, 0, 2])
PEER_MAC = bytes([2, 0, 0, 0, 0, 1])
BCAST = b'\xff' * 6
US = bytes([198, 18, 0, 2])
PEER = bytes([198, 18, 0, 1])


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(dst, etype, payload, src=PEER_MAC):
    return dst + src + struct.pack('!H', etype) + payload


def arp(op, sha, spa, tha, tpa):
    return eth(BCAST if op == 1 else US_MAC, 0x0806,
               struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa)


def ip(proto, payload, src=PEER, dst=US, ident=1, frag=0x4000, opts=b''):
    hl = 20 + len(opts)
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | hl // 4, 0, hl + len(payload), ident, frag, 64,
                    proto, 0, src, dst) + opts
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return eth(US_MAC, 0x0800, h + payload)


def pseudo(proto, length, src=PEER, dst=US):
    return src + dst + struct.pack('!BBH', 0, proto, length)


def udp(sport, dport, data):
    u = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    c = csum(pseudo(17, len(u)) + u) or 0xffff
    return ip(17, u[:6] + struct.pack('!H', c) + u[8:])


def tcp(sport, dport, seq, ack, flags, data=b'', win=65535, opts=b''):
    off = (20 + len(opts)) // 4
    t = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, off << 4, flags, win, 0, 0) + \
        opts + data
    c = csum(pseudo(6, len(t)) + t)
    return ip(6, t[:16] + struct.pack('!H', c) + t[18:])


def icmp_echo(ident, seq, data):
    i = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + data
    return ip(1, i[:2] + struct.pack('!H', csum(i)) + i[4:])


def frec(frame, flags=1, dt=0):
    return bytes([flags, dt]) + struct.pack('!H', len(frame)) + frame


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
MSS = b'\x02\x04\x05\xb4'


def gen_frame():
    t = 'frame'
    arp_req = arp(1, PEER_MAC, PEER, b'\0' * 6, US)
    arp_rep = arp(2, PEER_MAC, PEER, US_MAC, US)
    dnsq = q('www.example.com.')
    write(t, 'arp_request', b'\x00' + frec(arp_req))
    write(t, 'arp_reply_unsolicited', b'\x00' + frec(arp_rep))
    write(t, 'icmp_echo', b'\x00' + frec(arp_req) + frec(icmp_echo(7, 1, b'ping' * 8)))
    write(t, 'udp_dns', b'\x00' + frec(arp_req) + frec(udp(33333, 53, dnsq)))
    write(t, 'udp_closed_port', b'\x00' + frec(arp_req) + frec(udp(33333, 9999, b'x')))
    write(t, 'udp_client_reply', b'\x10' + frec(arp_rep) +
          frec(udp(53, 5353, dnsq[:2] + b'\x81\x80' + dnsq[4:])))
    # passive open: SYN, then ACK and data patched to the stack's ISN
    write(t, 'tcp_passive', b'\x00' + frec(arp_req) +
          frec(tcp(40001, 53, 1000, 0, SYN, opts=MSS)) +
          frec(tcp(40001, 53, 1001, 0, ACK), flags=0x03) +
          frec(tcp(40001, 53, 1001, 0, ACK | PSH, b'\x00\x05hello'), flags=0x03) +
          frec(tcp(40001, 53, 1008, 0, ACK | FIN), flags=0x03, dt=50) +
          frec(tcp(40001, 53, 1009, 0, ACK), flags=0x03, dt=10))
    write(t, 'tcp_passive_close_cmd', b'\x02' + frec(arp_req) +
          frec(tcp(40002, 53, 5000, 0, SYN)) +
          frec(tcp(40002, 53, 5001, 0, ACK), flags=0x03) +
          frec(tcp(40002, 53, 5001, 0, ACK | PSH, b'Close'), flags=0x03))
    write(t, 'tcp_passive_rst', b'\x00' + frec(arp_req) +
          frec(tcp(40003, 53, 7000, 0, SYN)) +
          frec(tcp(40003, 53, 7001, 0, RST), flags=0x07))
    write(t, 'tcp_ooo_data', b'\x04' + frec(arp_req) +
          frec(tcp(40004, 53, 9000, 0, SYN)) +
          frec(tcp(40004, 53, 9001, 0, ACK), flags=0x03) +
          frec(tcp(40004, 53, 9011, 0, ACK, b'later'), flags=0x03) +
          frec(tcp(40004, 53, 9001, 0, ACK, b'0123456789'), flags=0x03))
    # active open: the stack ARPs for the peer, then SYN-ACK, data, FIN
    write(t, 'tcp_active', b'\x08' + frec(arp_rep) +
          frec(tcp(53, 40000, 20000, 0, SYN | ACK, opts=MSS), flags=0x03) +
          frec(tcp(53, 40000, 20001, 0, ACK | PSH, b'\x00\x02hi'), flags=0x03) +
          frec(tcp(53, 40000, 20005, 0, ACK | FIN), flags=0x03))
    write(t, 'tcp_active_timeout', b'\x08' + frec(arp_rep) + frec(b'', flags=0x20, dt=90))
    write(t, 'tcp_no_listener', b'\x00' + frec(arp_req) + frec(tcp(40005, 80, 1, 0, SYN)))
    write(t, 'ip_fragment', b'\x00' + frec(ip(17, b'\x00' * 16, frag=0x2000), flags=0))
    write(t, 'ip_options_bad_proto', b'\x00' + frec(arp_req) +
          frec(ip(99, b'payload', opts=b'\x01\x01\x01\x00'), flags=0))
    write(t, 'vlan_ipv6_short', b'\x00' + frec(eth(US_MAC, 0x8100, b'\0' * 30), flags=0) +
          frec(eth(US_MAC, 0x86dd, b'\x60' + b'\0' * 39), flags=0) + frec(b'\x02\0\0', flags=0))
    write(t, 'broadcast_udp', b'\x00' + frec(eth(BCAST, 0x0800, ip(17, b'')[14:]), flags=0) +
          frec(udp(68, 53, b'\0' * 12)))


def main():
    gen_query()
    gen_response()
    gen_config()
    gen_control()
    gen_frame()
    return 0


if __name__ == '__main__':
    sys.exit(main())
