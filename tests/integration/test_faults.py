# test_faults.py — authoritative servers that die, come back, or lose
# queries, while rootwalkd is under a steady load.
#
# Why it exists: a resolver earns trust by what it does when the servers
# behind it fail.  These tests kill the servers of a zone (SIGKILL to the
# process group, hier.kill) in the middle of a steady query load and check
# that rootwalkd
#   * keeps answering names it has cached, from the cache;
#   * answers SERVFAIL for uncached names of the dead zone within its
#     query-timeout (it fails, it does not hang);
#   * keeps resolving other zones meanwhile;
#   * resolves the dead zone again once its servers are restarted, without
#     being restarted itself (same pid), and how long that took;
#   * with serve-expired on, answers expired data for a zone whose servers
#     are all dead;
# and they resolve many names through lossy.test, whose only server sits
# behind tests/hier/lossy.py (1/3 of UDP queries dropped): every name must
# resolve, by retrying.
#
# Figures (loss, latency percentiles, recovery time) are printed and, when
# FIGURES_FILE is set (tools/soak does), appended to it as JSON lines.
# Sizes: FAULT_SECONDS (default 16) of load around the outage, LOSSY_NAMES
# (default 300) names through the lossy server.
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import pytest

import hier
from dnsutil import ask, rr_lines
from resolvers import REPO, SLOWDOWN

pytestmark = pytest.mark.rootwalk_only

QUERY_TIMEOUT_S = 5.0      # resolvers.py configures query-timeout: 5000
SLACK_S = 1.0 * SLOWDOWN   # a SERVFAIL may come this much after query-timeout
FAULT_SECONDS = float(os.environ.get("FAULT_SECONDS", "16"))
LOSSY_NAMES = int(os.environ.get("LOSSY_NAMES", "300"))
DEAD_SERVER = "example-com"          # serves example.com on two addresses
# infra calls a server dead (blocked) after 8 timeouts in a row over 1 s
# (INFRA_BLOCK_*); from then on its zone's questions fail fast, but for one
# probe per server per second (INFRA_PROBE_INTERVAL_MS).  Questions asked
# this long after the kill find the zone known dead...
KNOWN_DEAD_S = 2.5
# ... and most of them (loose: the probes, a loaded machine) are answered
# SERVFAIL within FAST_S, far under query-timeout.
FAST_S = 1.0 * SLOWDOWN
FAST_SHARE = 0.5
CACHED = ["www.example.com.", "mail.example.com.", "target.example.com."]


def rootwalkctl_path():
    return os.environ.get("ROOTWALKCTL") or os.path.join(
        os.path.dirname(os.environ.get("ROOTWALKD") or os.path.join(REPO, "build", "rootwalkd")),
        "rootwalkctl")


def stats(res):
    p = subprocess.run([rootwalkctl_path(), "-s", os.path.join(res.workdir, "ctl.sock"),
                        "stats"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition("=")
        if v.isdigit():
            out.setdefault(k, int(v))   # first of a repeated name (cache_answers)
    return out


def figures(name, **kw):
    """Print the measured figures and append them to FIGURES_FILE."""
    print(f"\nFIGURES {name}: " + json.dumps(kw))
    path = os.environ.get("FIGURES_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": name, **kw}) + "\n")


def pct(values, p):
    """The p-th percentile (nearest rank) of a list; None if empty."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


class Load:
    """A steady UDP query load at RATE queries/s: one socket, a sender
    thread pacing the queries and a receiver matching replies by ID.
    name_of(i) gives the i-th (qname, category).  Each result is
    (time sent, category, rcode text or None if unanswered, latency s).
    Bounded: it sends for `seconds`, then waits `linger` for late replies."""

    def __init__(self, res, rate, seconds, name_of, linger=QUERY_TIMEOUT_S + 1.5 * SLOWDOWN):
        self.addr = (res.addr, res.port)
        self.rate, self.seconds, self.name_of, self.linger = rate, seconds, name_of, linger
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.settimeout(0.1)
        self.pending, self.results = {}, []
        self.lock = threading.Lock()
        self.sending = True
        self.t0 = None
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._recv, daemon=True)]

    def start(self):
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def _send(self):
        i = 0
        while True:
            due = self.t0 + i / self.rate
            now = time.monotonic()
            if due - self.t0 >= self.seconds:
                break
            if due > now:
                time.sleep(due - now)
            qname, cat = self.name_of(i)
            qid = i & 0xffff
            wire = dns.message.make_query(qname, "A", id=qid).to_wire()
            with self.lock:
                self.pending[qid] = (time.monotonic(), cat)
            try:
                self.sock.sendto(wire, self.addr)
            except OSError:
                pass
            i += 1
        self.sending = False

    def _recv(self):
        end = None
        while True:
            if not self.sending and end is None:
                end = time.monotonic() + self.linger
            if end is not None and (time.monotonic() > end or not self.pending):
                break
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            now = time.monotonic()
            if len(data) < 12:
                continue
            qid, flags = struct.unpack("!HH", data[:4])
            with self.lock:
                sent = self.pending.pop(qid, None)
            if sent:
                self.results.append((sent[0], sent[1], dns.rcode.to_text(flags & 0xf),
                                     now - sent[0]))

    def wait(self):
        for t in self.threads:
            t.join(self.seconds + self.linger + 30)
        with self.lock:
            self.results += [(t, cat, None, None) for t, cat in self.pending.values()]
            self.pending.clear()
        self.sock.close()
        return sorted(self.results)


def ask_once(res, qname, timeout=QUERY_TIMEOUT_S + 3 * SLOWDOWN):
    """One UDP query, one socket, waiting up to timeout.  (dnsutil.ask
    resends from a new socket every 2 s; with several workers each resend
    may land on another worker, which starts its own resolution and its
    own query-timeout, so a SERVFAIL at query-timeout would reach only a
    socket the stub had already given up on.)"""
    q = dns.message.make_query(qname, "A")
    return dns.query.udp(q, res.addr, port=res.port, timeout=timeout)


def warm(res, names):
    for n in names:
        r = ask(res, n, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer, r.to_text()


@pytest.fixture
def killed_zone(hier_info):
    """Kill and restart DEAD_SERVER on demand; it is restarted whatever
    happens, so the rest of the session finds the hierarchy whole."""
    d = hier_info["dir"]
    state = {"killed": False}

    def kill():
        hier.kill(d, DEAD_SERVER)
        state["killed"] = True

    def restart():
        hier.restart(d, DEAD_SERVER, hier_info)
        state["killed"] = False
    yield kill, restart
    if state["killed"]:
        hier.restart(d, DEAD_SERVER, hier_info)


def test_zone_servers_killed_and_restarted_under_load(fresh_resolver, killed_zone):
    """Steady load: cached example.com names, new names in example.com, new
    names in wild.test.  example.com's server is killed after a fifth of
    the run and restarted when the outage has lasted longer than
    query-timeout (so some queries are given up on while it is dead)."""
    kill, restart = killed_zone
    r = fresh_resolver(extra="verbosity: 1\n")
    pid = r.proc.pid
    warm(r, CACHED + ["warm.wild.test."])
    tag = random.randrange(1 << 30)

    def name_of(i):
        k = i % 4
        if k in (0, 1):
            return CACHED[i % len(CACHED)], "cached"
        if k == 2:
            return f"f{tag}-{i}.example.com.", "dead_zone"
        return f"f{tag}-{i}.wild.test.", "other_zone"

    rate = 100
    before_kill = FAULT_SECONDS * 0.2
    outage_s = max(QUERY_TIMEOUT_S + 2, FAULT_SECONDS * 0.4)
    s0 = stats(r)
    load = Load(r, rate, FAULT_SECONDS, name_of).start()
    time.sleep(before_kill)
    t_kill = time.monotonic()
    kill()
    time.sleep(max(0.0, t_kill + outage_s - 1 - time.monotonic()))
    mid = stats(r)            # the dead zone's queries pile up to here
    time.sleep(max(0.0, t_kill + outage_s - time.monotonic()))
    t_restart = time.monotonic()
    restart()
    t_up = time.monotonic()
    results = load.wait()
    s1 = stats(r)

    assert r.alive() and r.proc.pid == pid, "rootwalkd died or was restarted"
    by = {}
    for t, cat, rc, lat in results:
        by.setdefault(cat, []).append((t, rc, lat))
    # cached names: every one answered NOERROR, from the cache, throughout
    cached = by["cached"]
    assert all(rc == "NOERROR" for _, rc, _ in cached), \
        [x for x in cached if x[1] != "NOERROR"][:5]
    # another zone: resolves throughout
    other = by["other_zone"]
    assert all(rc == "NOERROR" for _, rc, _ in other), \
        [x for x in other if x[1] != "NOERROR"][:5]
    # the dead zone while dead (asked after the kill, and given up on
    # before the restart): SERVFAIL, each within the query-timeout
    dead = by["dead_zone"]
    outage = [x for x in dead if t_kill + 0.05 <= x[0] < t_restart - QUERY_TIMEOUT_S - 0.5]
    assert outage
    assert all(rc == "SERVFAIL" for _, rc, _ in outage), \
        [x for x in outage if x[1] != "SERVFAIL"][:5]
    assert all(lat <= QUERY_TIMEOUT_S + SLACK_S for _, _, lat in outage), \
        max(lat for _, _, lat in outage)
    # once the zone is known dead, its questions fail fast: they do not
    # hold a slot for the whole query-timeout (only the probes do; a probe
    # still out at the restart may get the real answer, so the questions
    # looked at are the ones asked and given up on before it)
    known_dead = [x for x in dead if t_kill + KNOWN_DEAD_S <= x[0] and x[2] is not None
                  and x[0] + x[2] < t_restart]
    assert known_dead
    assert all(rc == "SERVFAIL" for _, rc, _ in known_dead), \
        [x for x in known_dead if x[1] != "SERVFAIL"][:5]
    fast = [x for x in known_dead if x[2] is not None and x[2] < FAST_S]
    known_lat = [lat for _, _, lat in known_dead if lat is not None]
    print(f"dead zone, known dead: {len(fast)} of {len(known_dead)} SERVFAIL "
          f"within {FAST_S}s, p50 {1000 * pct(known_lat, 50):.0f} ms")
    assert len(fast) >= FAST_SHARE * len(known_dead), sorted(known_lat)
    # ... and once the servers answer again, new names resolve (NXDOMAIN:
    # they do not exist), without restarting rootwalkd
    after = [x for x in dead if x[0] >= t_up]
    ok = [x for x in after if x[1] == "NXDOMAIN"]
    assert ok, f"example.com never resolved again after the restart: {after[:5]}"
    first_ok = ok[0][0]
    assert all(rc == "NXDOMAIN" for t, rc, _ in after if t >= first_ok), \
        [x for x in after if x[0] >= first_ok and x[1] != "NXDOMAIN"][:5]
    before = [x for x in dead if x[0] < t_kill]
    assert all(rc == "NXDOMAIN" for _, rc, _ in before), before[:5]

    outage_lat = [lat for _, rc, lat in outage if lat is not None]
    figures("kill_restart", rate_qps=rate, seconds=FAULT_SECONDS,
            sent=len(results), unanswered=sum(1 for x in results if x[2] is None),
            cached_answered=len(cached),
            cached_p99_ms=round(1000 * pct([x[2] for x in cached], 99), 2),
            other_zone_ok=len(other),
            outage_servfails=len(outage),
            outage_servfail_p50_ms=round(1000 * pct(outage_lat, 50)) if outage_lat else None,
            outage_servfail_max_ms=round(1000 * max(outage_lat)) if outage_lat else None,
            known_dead_servfails=len(known_dead),
            known_dead_fast_share=round(len(fast) / len(known_dead), 3),
            known_dead_p50_ms=round(1000 * pct(known_lat, 50)),
            restart_took_s=round(t_up - t_restart, 2),
            recovery_s=round(max(0.0, first_ok - t_up), 3),
            servfail_deadline=s1["servfail_deadline"] - s0["servfail_deadline"],
            upstream_timeouts=s1["upstream_timeouts"] - s0["upstream_timeouts"],
            in_flight_during_outage=mid["queries_in_flight"])


def test_first_failures_are_bounded_and_recovery_needs_no_restart(fresh_resolver,
                                                                  killed_zone):
    """Without load: one by one, uncached names of the dead zone get
    SERVFAIL within query-timeout; after the restart the zone resolves
    again within a probe interval or so (a question that finds the servers
    blocked and their probe not due yet fails fast; the next probe finds
    them alive), without restarting rootwalkd."""
    kill, restart = killed_zone
    r = fresh_resolver()
    warm(r, CACHED)
    kill()
    waits = []
    for i in range(3):
        t0 = time.monotonic()
        reply = ask_once(r, f"gone{i}-{random.randrange(1 << 30)}.example.com.")
        waits.append(time.monotonic() - t0)
        assert reply.rcode() == dns.rcode.SERVFAIL
    cached = ask(r, "www.example.com.", "A")
    assert cached.rcode() == dns.rcode.NOERROR and cached.answer
    restart()
    t0 = time.monotonic()
    deadline = t0 + 3 + QUERY_TIMEOUT_S * 2
    while True:
        back = ask_once(r, f"back-{random.randrange(1 << 30)}.example.com.")
        if back.rcode() != dns.rcode.SERVFAIL or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    recovery = time.monotonic() - t0
    assert back.rcode() == dns.rcode.NXDOMAIN, back.to_text()
    figures("dead_zone_sequential", servfail_s=[round(w, 2) for w in waits],
            first_answer_after_restart_s=round(recovery, 3))


def test_serve_expired_when_every_server_of_a_zone_is_dead(fresh_resolver, killed_zone):
    """serve-expired: yes: an expired name of a dead zone is answered from
    the expired data; an uncached one still fails; after the restart the
    name is fresh again."""
    kill, restart = killed_zone
    r = fresh_resolver(extra="serve-expired: yes\ncache-max-ttl: 1\n"
                             "serve-expired-client-timeout: 800\n")
    fresh = ask(r, "www.example.com.", "A")
    assert fresh.rcode() == dns.rcode.NOERROR and fresh.answer
    time.sleep(1.5)                       # the cached answer expires
    kill()
    s0 = stats(r)
    t0 = time.monotonic()
    stale = ask_once(r, "www.example.com.")
    waited = time.monotonic() - t0
    assert stale.rcode() == dns.rcode.NOERROR
    assert rr_lines(stale.answer) == rr_lines(fresh.answer)
    assert stats(r)["stale_answers"] > s0["stale_answers"]
    nothing = ask_once(r, f"never-{random.randrange(1 << 30)}.example.com.")
    assert nothing.rcode() == dns.rcode.SERVFAIL
    restart()
    time.sleep(1.1)   # past the refresh the stale answer may have started
    again = ask(r, "www.example.com.", "A")
    assert again.rcode() == dns.rcode.NOERROR
    assert rr_lines(again.answer) == rr_lines(fresh.answer)
    assert all(rrset.ttl <= 1 for rrset in again.answer), again.to_text()
    figures("serve_expired_dead_zone", stale_answer_s=round(waited, 3))


def test_a_server_dropping_a_third_of_queries(hier_info, fresh_resolver):
    """lossy.test's only server loses 1/3 of the UDP queries (lossy.py).
    LOSSY_NAMES new names, 50 a second: every one must resolve."""
    r = fresh_resolver()
    stats_file = os.path.join(hier_info["dir"], "run", "lossy.stats")

    def relay():
        with open(stats_file) as f:
            return json.load(f)
    tag = random.randrange(1 << 30)
    ask(r, "www.lossy.test.", "A")        # the delegation is cached before timing
    rl0, s0 = relay(), stats(r)
    rate = 50
    load = Load(r, rate, LOSSY_NAMES / rate,
                lambda i: (f"n{tag}-{i}.lossy.test.", "lossy")).start()
    results = load.wait()
    rl1, s1 = relay(), stats(r)

    answered = [x for x in results if x[2] is not None]
    ok = [x for x in results if x[2] == "NOERROR"]
    lat = [x[3] for x in ok]
    received = rl1["received"] - rl0["received"]
    dropped = rl1["dropped"] - rl0["dropped"]
    timeouts = s1["upstream_timeouts"] - s0["upstream_timeouts"]
    figures("lossy_server", names=len(results), answered=len(answered),
            success_rate=round(len(ok) / len(results), 4),
            relay_received=received, relay_dropped=dropped,
            relay_drop_share=round(dropped / received, 3) if received else None,
            upstream_timeouts=timeouts,
            servfail_deadline=s1["servfail_deadline"] - s0["servfail_deadline"],
            p50_ms=round(1000 * pct(lat, 50), 1), p90_ms=round(1000 * pct(lat, 90), 1),
            p99_ms=round(1000 * pct(lat, 99), 1), max_ms=round(1000 * max(lat), 1))
    assert len(ok) == len(results), [x for x in results if x[2] != "NOERROR"][:10]
    # the relay did lose about a third, and rootwalkd saw those as timeouts
    assert 0.2 < dropped / received < 0.47, (dropped, received)
    assert timeouts >= dropped * 0.8, (timeouts, dropped)
