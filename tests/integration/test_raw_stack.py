"""Raw-mode TCP/IP stack against the real Linux kernel.

tools/stackdemo runs our stack on a TAP device; the kernel is the peer on
the other side of that link.  Each test makes its own TAP (unique name) and
its own /24 inside 198.18.0.0/15: the kernel side is 198.18.N.1, the stack
198.18.N.2.  Those addresses exist only inside a private network namespace.
The suite runs in one (tests/run, tests/hier/netns-run; conftest.py refuses
to run elsewhere).  Run on its own, `/usr/bin/python3 test_raw_stack.py`
re-executes itself under `unshare -rn` first, so it never touches the host.

Proves: ping replies, UDP echo, ICMP port unreachable seen by the kernel,
TCP echo of 100 KB in both directions with the close seen on both sides,
an active open from the stack to a kernel server, and the same transfers
with 20% loss, reordering and duplication injected at the TAP boundary.
"""
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REEXEC_FLAG = "RW_RAW_STACK_NETNS"
CI = os.environ.get("CI") == "true"
PAYLOAD = 100 * 1000
IO_TIMEOUT = 60.0  # per socket operation; bounds every loop below


def _netns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _in_private_netns():
    """True when we are not in the initial network namespace: a namespace
    inode other than init's or, where init's cannot be read (inside a user
    namespace), the mark of netns-run or of our own re-exec, or a namespace
    holding nothing but the loopback."""
    mine = _netns_inode("/proc/self/ns/net")
    init = _netns_inode("/proc/1/ns/net")
    if mine is not None and init is not None:
        return mine != init
    if os.environ.get("ROOTWALK_IN_NETNS") == "1" or os.environ.get(REEXEC_FLAG):
        return True
    return [n for _, n in socket.if_nameindex()] == ["lo"]


def _can_make_tap():
    probe = f"rwprobe{os.getpid() % 10000}"
    r = subprocess.run(["ip", "tuntap", "add", "dev", probe, "mode", "tap"],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        return False, r.stderr.decode().strip()
    subprocess.run(["ip", "link", "del", probe], capture_output=True, timeout=30)
    return True, ""


def _reexec_in_netns():
    """Runs this file again inside `unshare -rn`; returns only on failure."""
    env = dict(os.environ)
    env[REEXEC_FLAG] = "1"
    argv = ["unshare", "-rn", sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe("unshare", argv, env)
    except OSError as e:  # no unshare: cannot isolate, never touch the host
        print(f"cannot enter a network namespace: {e}", file=sys.stderr)


def _skip_or_fail(msg):
    if CI:
        pytest.fail(msg)
    pytest.skip(msg)


def _run(*args):
    subprocess.run(list(args), check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module", autouse=True)
def netns():
    if not _in_private_netns():
        _skip_or_fail("not inside a private network namespace")
    ok, why = _can_make_tap()
    if not ok:
        _skip_or_fail("cannot create TAP devices here: " + why)
    subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, timeout=30)
    yield


def _find_stackdemo():
    env = os.environ.get("STACKDEMO")
    if env:
        return env
    candidates = []
    for entry in os.listdir(ROOT):
        path = os.path.join(ROOT, entry, "src", "stack", "stackdemo")
        if entry.startswith("build") and os.access(path, os.X_OK):
            candidates.append(path)
    if not candidates:
        return None
    return max(candidates, key=os.path.getmtime)


@pytest.fixture(scope="module")
def stackdemo():
    path = _find_stackdemo()
    if not path:
        _skip_or_fail("stackdemo not built (ninja -C build src/stack/stackdemo)")
    return path


_subnets = itertools.count(10)


class Link:
    """A TAP device with the kernel side addressed; the stack gets .2."""

    def __init__(self):
        n = next(_subnets)
        self.name = f"rwt{os.getpid() % 10000}n{n}"
        self.kernel = f"198.18.{n}.1"
        self.stack = f"198.18.{n}.2"
        _run("ip", "tuntap", "add", "dev", self.name, "mode", "tap")
        _run("ip", "addr", "add", f"{self.kernel}/24", "dev", self.name)
        _run("ip", "link", "set", self.name, "up")

    def close(self):
        subprocess.run(["ip", "link", "del", self.name], capture_output=True, timeout=30)


@pytest.fixture
def link():
    lk = Link()
    yield lk
    lk.close()


class Demo:
    """stackdemo on a link; collects its stdout lines."""

    def __init__(self, binary, link, *args, seconds=90):
        cmd = [binary, "--tap", link.name, "--addr", f"{link.stack}/24",
               "--seconds", str(seconds), "--msl", "500"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        self.err = []
        self.ready = threading.Event()
        self._t_out = threading.Thread(target=self._read_out, daemon=True)
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_out.start()
        self._t_err.start()
        if not self.ready.wait(10):
            self.stop()
            pytest.fail("stackdemo did not start: " + "".join(self.err))

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                self.ready.set()

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail("stackdemo did not finish; output:\n" + "\n".join(self.lines))
        self._t_out.join(5)
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._t_out.join(5)
        self._t_err.join(5)
        return self.proc.returncode

    def assert_clean(self, rc):
        """Exited 0, no sanitizer report (when built with -Db_sanitize)."""
        err = "".join(self.err)
        assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]
        assert rc == 0, f"stackdemo exit {rc}:\n" + "\n".join(self.lines) + err[-2000:]

    def has(self, prefix):
        return any(line.startswith(prefix) for line in self.lines)

    def wait_for(self, prefix, timeout=IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.has(prefix):
                return True
            time.sleep(0.05)
        return False

    def tcp_table(self):
        return [line for line in self.lines if line.startswith("TCP ")]


def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def tcp_echo_roundtrip(addr, port, data):
    """Sends data (from a thread), half-closes, reads the echo to EOF."""
    sock = socket.create_connection((addr, port), timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    errors = []

    def sender():
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    got = bytearray()
    while True:  # bounded: every recv times out after IO_TIMEOUT
        chunk = sock.recv(65536)
        if not chunk:
            break  # the stack closed its side: FIN seen
        got += chunk
        if len(got) > len(data):
            break
    t.join(IO_TIMEOUT)
    sock.close()
    assert not errors, errors
    return bytes(got)


def test_ping(stackdemo, link):
    demo = Demo(stackdemo, link)
    try:
        r = subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", link.stack],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert " 3 received" in r.stdout, r.stdout
    finally:
        rc = demo.stop()
    demo.assert_clean(rc)


def test_udp_echo_and_port_unreachable(stackdemo, link):
    demo = Demo(stackdemo, link, "--udp-echo", "5300")
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for size in (1, 100, 512, 1472):
            msg = pattern(size)
            s.sendto(msg, (link.stack, 5300))
            data, peer = s.recvfrom(2048)
            assert data == msg
            assert peer == (link.stack, 5300)
        s.close()
        # a closed port: the stack's ICMP port unreachable reaches the kernel
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(5)
        c.connect((link.stack, 5301))
        c.send(b"anyone?")
        with pytest.raises(ConnectionRefusedError):
            c.recv(100)
        c.close()
    finally:
        rc = demo.stop()
    demo.assert_clean(rc)
    assert any(line.startswith("DROP udp_no_port") for line in demo.lines)


def check_server_echo(demo, link, port):
    data = pattern(PAYLOAD)
    try:
        got = tcp_echo_roundtrip(link.stack, port, data)
    except OSError as e:
        demo.stop()
        pytest.fail(f"echo failed: {e!r}\nstackdemo said:\n" + "\n".join(demo.lines) +
                    "\n" + "".join(demo.err[-30:]))
    assert len(got) == len(data)
    assert got == data
    # the stack saw our FIN, then closed its side after the echo
    assert demo.wait_for("ECHO-DONE bytes=%d" % PAYLOAD), demo.lines
    assert demo.has("EOF server")


def test_tcp_echo_100k(stackdemo, link):
    demo = Demo(stackdemo, link, "--tcp-echo", "5300")
    try:
        check_server_echo(demo, link, 5300)
        time.sleep(0.5)  # the last ACK reaches the stack: LAST_ACK -> CLOSED
    finally:
        rc = demo.stop()
    demo.assert_clean(rc)
    table = demo.tcp_table()
    assert [t for t in table if t.endswith("LISTEN")], table
    assert not [t for t in table if ":5300 198.18" in t], table  # connection gone


def run_client(stackdemo, link, *fault_args):
    """The stack connects to a kernel server that echoes until EOF."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((link.kernel, 0))
    srv.listen(1)
    srv.settimeout(IO_TIMEOUT)
    port = srv.getsockname()[1]
    result = {}

    def server():
        try:
            conn, _ = srv.accept()
            conn.settimeout(IO_TIMEOUT)
            got = bytearray()
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break  # the stack's FIN (active close)
                got += chunk
                if len(got) > PAYLOAD:
                    break
            result["got"] = bytes(got)
            conn.sendall(got)
            conn.close()  # our FIN back
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=server, daemon=True)
    t.start()
    demo = Demo(stackdemo, link, "--connect", f"{link.kernel}:{port}",
                "--send", str(PAYLOAD), *fault_args)
    rc = demo.wait(timeout=120)
    t.join(IO_TIMEOUT)
    srv.close()
    assert "error" not in result, result
    assert result.get("got") == pattern_client(PAYLOAD)
    demo.assert_clean(rc)
    assert demo.has("CONNECTED")
    assert demo.has("EOF client")
    assert demo.has("CLIENT OK bytes=%d" % PAYLOAD)
    # we closed first: our side lingers in TIME_WAIT
    assert any(t.endswith("TIME_WAIT") for t in demo.tcp_table()), demo.tcp_table()


def pattern_client(n):
    """tools/stackdemo.c pattern_byte()."""
    return bytes(((i * 131 + (i >> 8) * 7 + 1) & 0xFF) for i in range(n))


def test_tcp_active_open(stackdemo, link):
    run_client(stackdemo, link)


# 20% loss each way, 10% reordered, 5% duplicated.  The RTO cap is lowered
# to 4 s (default 60 s) so that a run of lost retransmissions cannot stall a
# transfer past IO_TIMEOUT: with loss on both ways a retransmission round
# fails about one time in three.  The back-off itself is unit-tested.
FAULTS = ["--drop", "0.2", "--reorder", "0.1", "--dup", "0.05", "--rto-max", "4000"]


def test_tcp_echo_100k_with_faults(stackdemo, link):
    demo = Demo(stackdemo, link, "--tcp-echo", "5300", *FAULTS, "--seed", "4242")
    try:
        check_server_echo(demo, link, 5300)
    finally:
        rc = demo.stop()
    demo.assert_clean(rc)
    retrans = [line for line in demo.lines if line.startswith("STAT tcp_retransmits")]
    assert retrans and int(retrans[0].split()[2]) > 0, demo.lines  # loss did happen


def test_tcp_active_open_with_faults(stackdemo, link):
    run_client(stackdemo, link, *FAULTS, "--seed", "77")


if __name__ == "__main__":
    if not os.environ.get(REEXEC_FLAG) and (not _in_private_netns() or not _can_make_tap()[0]):
        _reexec_in_netns()
        sys.exit(1 if CI else 77)
    subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, timeout=30)
    sys.exit(pytest.main([os.path.abspath(__file__), "-v"] + sys.argv[1:]))
