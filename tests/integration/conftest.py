# conftest.py — fixtures of the integration suite: the hierarchy and resolvers.
#
# Why it exists: every test needs the simulated hierarchy (tests/hier) and a
# resolver pointed at it.  The hierarchy comes up once per session; the
# resolver under test is rootwalkd (env ROOTWALKD, default build/rootwalkd)
# or Unbound with RESOLVER=unbound, so every test can be checked against the
# reference.  Logs of every process stay in the pytest temp directory (its
# path is printed at the end) and the resolvers' log tails are attached to
# each failing test's report.
#
# The suite must run inside a private network namespace: use tests/run, or
# tests/hier/netns-run /usr/bin/python3 -m pytest tests/integration
import glob
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "hier"))
sys.path.insert(0, HERE)

import hier  # noqa: E402
from resolvers import WRAPPER, WRAPPER_ERROR_STATUS, Resolver, rootwalkd_path  # noqa: E402

KIND = os.environ.get("RESOLVER", "rootwalk")
_running = []      # every resolver started, for failure reports
_dirs = []         # directories worth pointing at in the summary
_hier = []         # the hierarchy's info, once it is up


def pytest_configure(config):
    config.addinivalue_line("markers", "rootwalk_only: tests rootwalkd-specific behaviour "
                            "(Unbound differs on purpose); not run with RESOLVER=unbound")
    config.addinivalue_line("markers", "real_root: needs real root outside a user namespace "
                            "(tests/run runs these in a step of their own)")
    if KIND not in ("rootwalk", "unbound"):
        pytest.exit(f"RESOLVER must be rootwalk or unbound, not {KIND!r}", returncode=2)
    if not hier.in_private_netns():
        ci = os.environ.get("CI") == "true"
        pytest.exit("not inside a private network namespace; run tests/run or "
                    "tests/hier/netns-run /usr/bin/python3 -m pytest tests/integration",
                    returncode=1 if ci else 77)


def pytest_report_header(config):
    return f"resolver under test: {KIND}" + (
        f" ({rootwalkd_path()})" if KIND == "rootwalk" else "")


# Tests whose premise a daemon under ROOTWALKD_WRAPPER (valgrind: tens of
# times slower) cannot meet; each skipped there with its reason.
NOT_UNDER_WRAPPER = {
    "test_cache.py::test_prefetch_refreshes_a_popular_answer_before_it_expires":
        "times a hit into the last 10% of a 20 s TTL; valgrind's cold resolution "
        "alone eats that margin",
    "test_control.py::test_stats_follow_queries_and_reset":
        "counts queries exactly; a cold resolution slower than the stub's 2 s "
        "resend adds one",
    "test_resolve.py::test_parallel_queries":
        "250 cold resolutions at once exceed query-timeout (5 s) at valgrind's speed",
    "test_resources.py::test_flood_far_above_peak":
        "floods at several times the plain build's peak; the daemon is still draining "
        "that backlog when the test asks again",
    "test_faults.py::test_zone_servers_killed_and_restarted_under_load":
        "a fixed-rate load the daemon cannot keep up with at valgrind's speed",
    "test_poison.py::test_forged_replies_never_reach_the_cache":
        "its Kaminsky phase needs client answers within seconds of flooding; none "
        "come at valgrind's speed (forged replies accepted stayed 0)",
    "test_poison.py::test_raw_mode_forged_replies_never_reach_the_cache":
        "as the kernel-mode campaign: no client answers within the Kaminsky phase",
    "test_worklimits.py::test_nxns_fanout_is_bounded":
        "counts upstream queries exactly; at valgrind's speed replies are read after "
        "the retransmit timer fired, and the resends add queries",
    "test_worklimits.py::test_nxns_nested_fanout_is_bounded":
        "counts upstream queries exactly; valgrind-slowed reads add resends",
}


def pytest_collection_modifyitems(config, items):
    if WRAPPER:
        for item in items:
            test_id = item.nodeid.split("/")[-1]
            reason = NOT_UNDER_WRAPPER.get(test_id) or NOT_UNDER_WRAPPER.get(
                test_id.split("[")[0])
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"under {WRAPPER[0]}: {reason}"))
    if KIND == "rootwalk":
        return
    skip = pytest.mark.skip(reason="rootwalkd-specific; RESOLVER=unbound")
    for item in items:
        if "rootwalk_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for r in _running:
            rep.sections.append((f"{r.kind} log ({r.log}), last lines", r.log_tail()))
        for info in _hier:   # a dead authoritative server explains a lot
            for name, srv in info["servers"].items():
                if hier.gone(srv["pid"]):
                    rep.sections.append((f"hierarchy server {name} is DEAD ({srv['log']})",
                                         hier.tail(srv["log"])))


def pytest_terminal_summary(terminalreporter):
    if _dirs:
        base = os.path.commonpath(_dirs)
        terminalreporter.write_line(f"logs and configs of every process kept under {base}")


@pytest.fixture(scope="session")
def kind():
    return KIND


@pytest.fixture(scope="session")
def hier_info(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hier"))
    _dirs.append(d)
    info = hier.up(d)
    _hier.append(info)
    yield info
    _hier.remove(info)
    hier.down(d)


@pytest.fixture(scope="session")
def cases(hier_info):
    return hier_info["cases"]


def _start(kind_, workdir, hints, addr, port=5353, extra=""):
    r = Resolver(kind_, workdir, hints, addr=addr, port=port, extra=extra)
    _running.append(r)
    _dirs.append(workdir)
    return r.start()


def _stop(r):
    status = r.stop()
    _running.remove(r)
    if WRAPPER and r.kind == "rootwalk" and status == WRAPPER_ERROR_STATUS:
        pytest.fail(f"{WRAPPER[0]} found errors in rootwalkd (exit {status}); see {r.log}:\n"
                    + r.log_tail(120), pytrace=False)
    return status


# Under ROOTWALKD_WRAPPER (valgrind), every daemon's report ends up in its
# log, including daemons a test started itself; one with errors fails the
# session even if no fixture looked at its exit status.
_VG_ERRORS = re.compile(r"^==\d+== ERROR SUMMARY: ([1-9]\d*) errors", re.M)


def _wrapper_reports(basetemp):
    bad = []
    for log in glob.glob(os.path.join(basetemp, "**", "*.log"), recursive=True):
        with open(log, errors="replace") as f:
            if _VG_ERRORS.search(f.read()):
                bad.append(log)
    return sorted(bad)


def pytest_sessionfinish(session, exitstatus):
    if not WRAPPER or not hasattr(session.config, "_tmp_path_factory"):
        return
    bad = _wrapper_reports(str(session.config._tmp_path_factory.getbasetemp()))
    if bad:
        print(f"\n{WRAPPER[0]} reported errors in: " + ", ".join(bad), file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def resolver(hier_info, tmp_path_factory):
    """The resolver under test, on 127.0.0.1@5353, for the whole session."""
    r = _start(KIND, str(tmp_path_factory.mktemp(KIND)), hier_info["root_hints"], "127.0.0.1")
    yield r
    crashed = not r.alive()
    status = _stop(r)
    assert not crashed, f"{KIND} died during the session (status {status})"
    assert status == 0, f"{KIND} did not exit cleanly on SIGTERM (status {status})"


@pytest.fixture(scope="session")
def reference(hier_info, tmp_path_factory):
    """Unbound on 127.0.0.2@5353, the behaviour rootwalkd must match."""
    r = _start("unbound", str(tmp_path_factory.mktemp("reference")),
               hier_info["root_hints"], "127.0.0.2")
    yield r
    _stop(r)


@pytest.fixture
def fresh_resolver(hier_info, tmp_path_factory):
    """Factory: a new resolver with a cold cache, on its own 127.0.1.N address.

    fresh_resolver(extra="config lines\\n", kind="unbound")."""
    started = []

    def make(extra="", kind_=None):
        n = len(started) + 1
        r = _start(kind_ or KIND, str(tmp_path_factory.mktemp("fresh")),
                   hier_info["root_hints"], f"127.0.1.{n}", extra=extra)
        started.append(r)
        return r
    yield make
    failed = []
    for r in started:
        try:
            _stop(r)
        except pytest.fail.Exception as e:
            failed.append(str(e))
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
