#!/usr/bin/python3
# hier.py — brings the simulated DNS hierarchy up and down, and counts queries.
#
# Why it exists: resolver tests, demos and benchmarks need real authoritative
# servers (NSD, Knot DNS, and badserver.py for misbehaviour) answering on
# their own 127.x addresses.  This starts them from topology.py, waits until
# each one answers, and records what is where in DIR/hier.json.
#
# Run it INSIDE a private network namespace (it refuses otherwise):
#   tests/hier/netns-run bash
#   tests/hier/hier.py up /tmp/h      # servers keep running in the namespace
#   dig @127.1.0.1 . SOA
#   tests/hier/hier.py count /tmp/h   # queries received per server
#   tests/hier/hier.py down /tmp/h
#
# From Python: `import hier; info = hier.up(dir); ...; hier.down(dir)`.
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import topology as T  # noqa: E402
import zonegen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
START_TIMEOUT = 15.0   # seconds for one server to start answering


class HierError(Exception):
    pass


def in_private_netns():
    """A namespace made by `unshare -n` has only the loopback interface."""
    return [n for _, n in socket.if_nameindex()] == ["lo"]


def check_netns():
    if not in_private_netns():
        raise HierError("not in a private network namespace (interfaces: %s); "
                        "run under tests/hier/netns-run" %
                        ", ".join(n for _, n in socket.if_nameindex()))
    for srv in T.SERVERS.values():
        for a in srv["addrs"]:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind((a, 0))
                except OSError as e:
                    raise HierError(f"cannot bind {a} ({e}); is lo up?") from e


def _run_all(jobs):
    """Run (cmd, what) jobs at once (checkers spend their time starting up,
    not computing); raise for the first that failed."""
    procs = [(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True), cmd, what) for cmd, what in jobs]
    failed = []
    for p, cmd, what in procs:
        out, _ = p.communicate(timeout=60)
        if p.returncode != 0:
            failed.append(f"{what} failed: {' '.join(cmd)}\n{out}")
    if failed:
        raise HierError(failed[0])


def check_zones(d):
    """Every zone loads in the server that will serve it."""
    jobs = []
    for name, srv in T.SERVERS.items():
        if srv["kind"] == "nsd":
            for z in srv["zones"]:
                jobs.append((["nsd-checkzone", z,
                              os.path.join(d, "zones", zonegen.zone_file_name(z))], f"zone {z}"))
        elif srv["kind"] == "knot":
            conf = os.path.join(d, "conf", f"{name}.knot.conf")
            jobs.append((["knotc", "-c", conf, "conf-check"], f"config {conf}"))
            jobs.append((["knotc", "-c", conf, "zone-check"], f"zones of {name}"))
    _run_all(jobs)


def command(d, name, srv):
    kind = srv["kind"]
    if kind == "nsd":
        return ["nsd", "-d", "-c", os.path.join(d, "conf", f"{name}.nsd.conf")]
    if kind == "knot":
        return ["knotd", "-c", os.path.join(d, "conf", f"{name}.knot.conf")]
    if kind == "lossy":   # a relay in front of another server of the hierarchy
        return [PYTHON, os.path.join(HERE, "lossy.py"), srv["addrs"][0],
                T.SERVERS[srv["backend"]]["addrs"][0],
                "--count", os.path.join(d, "run", f"{name}.count"),
                "--stats", os.path.join(d, "run", f"{name}.stats")]
    cmd = [PYTHON, os.path.join(HERE, "badserver.py"), kind, ",".join(srv["addrs"]),
           "--count", os.path.join(d, "run", f"{name}.count"),
           "--hints", os.path.join(d, "root.hints")]
    for z in srv["zones"]:
        cmd += ["--zone", z, os.path.join(d, "zones", zonegen.zone_file_name(z))]
    if "delay_ms" in srv:
        cmd += ["--delay", str(srv["delay_ms"])]
    if kind == "deep":
        cmd += ["--apex", srv["apex"], "--depth", str(srv["depth"])]
    return cmd


def _pids_path(d):
    return os.path.join(d, "run", "pids.json")


def _soa_query(zone):
    return dns.message.make_query(zone, "SOA", use_edns=0)


def answers_as_expected(srv, addr):
    """One probe of a server: True when it behaves as its kind says."""
    kind = srv["kind"]
    if kind in ("drop", "slow", "deep"):
        # never answers, answers late, or answers per address: the TCP
        # listener (opened after the UDP one) is all we wait for here
        with socket.create_connection((addr, 53), timeout=0.5):
            return True
    zone = srv["zones"][0] if srv["zones"] else srv.get("relays", ".")
    r = dns.query.udp(_soa_query(zone), addr, timeout=0.5)
    if kind in ("nsd", "knot", "lossy"):
        return (r.rcode() == dns.rcode.NOERROR and bool(r.flags & dns.flags.AA)
                and len(r.answer) == 1)
    if kind == "tc":
        return bool(r.flags & dns.flags.TC)
    if kind == "lame":
        return r.rcode() == dns.rcode.NOERROR and not r.answer and bool(r.authority)
    return r.rcode() == {"refused": dns.rcode.REFUSED, "servfail": dns.rcode.SERVFAIL}[kind]


def wait_ready(name, srv, proc, log):
    """Bounded wait until every address of the server answers correctly."""
    deadline = time.monotonic() + START_TIMEOUT
    for addr in srv["addrs"]:
        while True:
            if proc.poll() is not None:
                raise HierError(f"{name} exited with {proc.returncode}:\n{tail(log)}")
            try:
                if answers_as_expected(srv, addr):
                    break
            except (OSError, dns.exception.DNSException):
                pass
            if time.monotonic() > deadline:
                raise HierError(f"{name} not answering on {addr}:\n{tail(log)}")
            time.sleep(0.05)
    # every zone of an authoritative server answers, on every address
    for z in srv["zones"] if srv["kind"] in ("nsd", "knot") else []:
        for addr in srv["addrs"]:
            r = dns.query.udp(_soa_query(z), addr, timeout=2)
            if r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA:
                raise HierError(f"{name}@{addr} does not serve {z}: {r}")


def server_of(zone):
    for srv in T.SERVERS.values():
        if zone in srv["zones"]:
            return srv
    return None


FANOUT_MIN = 20   # referrals with this many NS names get the header-only check


def _query_wire(q, addr):
    """One query over UDP, again over TCP if truncated; the reply's bytes."""
    wire = q.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(wire, (addr, 53))
        reply = s.recv(65535)
    if not reply[2] & 0x02:   # TC clear
        return reply
    with socket.create_connection((addr, 53), timeout=2) as s:
        s.sendall(len(wire).to_bytes(2, "big") + wire)
        data = b""
        while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
            chunk = s.recv(65535)
            if not chunk:
                raise HierError(f"{addr} closed the TCP connection mid-reply")
            data += chunk
    return data[2:2 + int.from_bytes(data[:2], "big")]


def check_fanout_referral(child, ns, addr, q):
    """A referral with hundreds of glue-less NS names: parsing it with
    dnspython would cost a third of a second, so check the header only
    (NOERROR, no AA, no answer, one authority RR per NS name, no glue)."""
    w = _query_wire(q, addr)
    flags, an, au, ad = (int.from_bytes(w[i:i + 2], "big") for i in (2, 6, 8, 10))
    if flags & 0x040F or an or au != len(ns) or ad > 1:   # AA, rcode; OPT only
        raise HierError(f"bad fan-out referral to {child} from {addr}: flags {flags:#x}, "
                        f"{an} answer, {au} authority ({len(ns)} NS expected), {ad} additional")


def check_referrals():
    """Each parent refers to each child: no AA, the child's NS set in the
    authority section, and glue for in-bailiwick names."""
    for child, ns in T.ZONE_NS.items():
        if child == ".":
            continue
        parent = server_of(zonegen.parent_zone(child))
        q = dns.message.make_query("probe." + child, "A", use_edns=0)
        q.flags &= ~dns.flags.RD
        if len(ns) >= FANOUT_MIN and not any(a for _, a in ns):
            check_fanout_referral(child, ns, parent["addrs"][0], q)
            continue
        r = dns.query.udp(q, parent["addrs"][0], timeout=2)
        got = sorted(rd.target.to_text().lower() for rrset in r.authority
                     if rrset.rdtype == dns.rdatatype.NS for rd in rrset)
        glue = sorted(rrset.name.to_text().lower() for rrset in r.additional
                      if rrset.rdtype == dns.rdatatype.A)
        want_glue = sorted(n for n, a in ns if a and zonegen.is_sub(n, child))
        if (r.rcode() != dns.rcode.NOERROR or r.flags & dns.flags.AA or r.answer
                or got != sorted(n for n, _ in ns) or glue != want_glue):
            raise HierError(f"bad referral to {child} from {parent['addrs'][0]}:\n{r}")


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def up(d):
    """Generate, check, start and wait for every server.  Returns hier.json's dict."""
    d = os.path.abspath(d)
    check_netns()
    zonegen.write_all(d)
    check_zones(d)
    pids, procs = {}, {}
    try:
        for name, srv in T.SERVERS.items():
            log = os.path.join(d, "logs", f"{name}.log")
            with open(log, "ab") as lf:
                procs[name] = subprocess.Popen(command(d, name, srv), stdout=lf,
                                               stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL,
                                               start_new_session=True)
            pids[name] = procs[name].pid
            with open(_pids_path(d), "w") as f:
                json.dump(pids, f)
        for name, srv in T.SERVERS.items():
            wait_ready(name, srv, procs[name], os.path.join(d, "logs", f"{name}.log"))
        check_referrals()
    except BaseException:
        down(d)
        raise
    info = describe(d, pids)
    with open(os.path.join(d, "hier.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


def describe(d, pids):
    servers = {}
    for name, srv in T.SERVERS.items():
        servers[name] = dict(srv, pid=pids[name],
                             log=os.path.join(d, "logs", f"{name}.log"))
    return {"dir": d, "root_hints": os.path.join(d, "root.hints"),
            "roots": T.ROOTS, "servers": servers,
            "zone_ns": T.ZONE_NS, "cases": T.CASES, "work_cases": T.WORK_CASES,
            "soa_minimum": T.SOA_MINIMUM, "big_txt": T.BIG_TXT}


def gone(pid):
    try:  # reap it if it is our child
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def stop_pid(pid, timeout=5.0):
    """SIGTERM, bounded wait, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if gone(pid):
                return
            time.sleep(0.05)


def down(d):
    """Stop every server recorded in DIR/run/pids.json."""
    try:
        with open(_pids_path(os.path.abspath(d))) as f:
            pids = json.load(f)
    except FileNotFoundError:
        return
    for pid in pids.values():
        stop_pid(pid)
    os.unlink(_pids_path(os.path.abspath(d)))


def _start_one(d, name):
    srv = T.SERVERS[name]
    log = os.path.join(d, "logs", f"{name}.log")
    with open(log, "ab") as lf:
        proc = subprocess.Popen(command(d, name, srv), stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, log


def _group_gone(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def kill(d, name, sig=signal.SIGKILL, timeout=5.0):
    """Kill one server abruptly (fault tests): the signal goes to its whole
    process group, since NSD's serving children would otherwise outlive
    their parent and keep answering.  Bounded wait until they are gone."""
    d = os.path.abspath(d)
    with open(_pids_path(d)) as f:
        pid = json.load(f)[name]
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid) and (sig != signal.SIGKILL or _group_gone(pid)):
            return
        time.sleep(0.02)
    raise HierError(f"{name} (pid {pid}) still there {timeout}s after signal {sig}")


def restart(d, name, info=None):
    """Start one server again after kill(), wait until it answers, and record
    its new pid in DIR/run/pids.json (and in info, hier.up()'s dict, when
    given, so reports about dead servers look at the right process).
    Returns the new pid."""
    d = os.path.abspath(d)
    with open(_pids_path(d)) as f:
        pids = json.load(f)
    old = pids.get(name)
    if old and not gone(old):
        raise HierError(f"{name} (pid {old}) is still running")
    proc, log = _start_one(d, name)
    pids[name] = proc.pid
    with open(_pids_path(d), "w") as f:
        json.dump(pids, f)
    if info is not None:
        info["servers"][name]["pid"] = proc.pid
    try:
        wait_ready(name, T.SERVERS[name], proc, log)
    except BaseException:
        stop_pid(proc.pid)
        raise
    return proc.pid


def _kv_lines(text, sep):
    out = {}
    for line in text.splitlines():
        if sep in line:
            k, v = line.split(sep, 1)
            try:
                out[k.strip()] = int(v.strip())
            except ValueError:
                pass
    return out


def count(d):
    """Queries received so far, per server: {name: {"queries": n, "tcp": m}}."""
    d = os.path.abspath(d)
    out = {}
    for name, srv in T.SERVERS.items():
        conf = os.path.join(d, "conf", f"{name}.{srv['kind']}.conf")
        if srv["kind"] == "nsd":
            p = subprocess.run(["nsd-control", "-c", conf, "stats_noreset"],
                               capture_output=True, text=True, timeout=10, check=True)
            kv = _kv_lines(p.stdout, "=")
            out[name] = {"queries": kv.get("num.queries", 0),
                         "tcp": kv.get("num.tcp", 0) + kv.get("num.tcp6", 0)}
        elif srv["kind"] == "knot":
            p = subprocess.run(["knotc", "-c", conf, "stats", "mod-stats"],
                               capture_output=True, text=True, timeout=10)
            kv = _kv_lines(p.stdout, "=")
            proto = {k.split("[", 1)[1].rstrip("]"): v for k, v in kv.items()
                     if k.startswith("mod-stats.request-protocol[")}
            out[name] = {"queries": sum(proto.values()),
                         "tcp": proto.get("tcp4", 0) + proto.get("tcp6", 0)}
        else:
            try:
                with open(os.path.join(d, "run", f"{name}.count")) as f:
                    q, t = (int(x) for x in f.read().split())
            except FileNotFoundError:
                q, t = 0, 0
            out[name] = {"queries": q, "tcp": t}
    return out


def main(argv):
    usage = "usage: hier.py up|down|count|gen DIR   (inside tests/hier/netns-run)"
    if len(argv) != 3 or argv[1] not in ("up", "down", "count", "gen"):
        print(usage, file=sys.stderr)
        return 2
    cmd, d = argv[1], argv[2]
    try:
        if cmd == "up":
            info = up(d)
            print(f"hierarchy up: {len(info['servers'])} servers; "
                  f"hints {info['root_hints']}; details {d}/hier.json")
        elif cmd == "down":
            down(d)
        elif cmd == "gen":
            zonegen.write_all(os.path.abspath(d))
            check_zones(os.path.abspath(d))
        else:
            for name, c in count(d).items():
                print(f"{name:16} queries {c['queries']:8}  tcp {c['tcp']:8}")
    except HierError as e:
        print(f"hier.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
