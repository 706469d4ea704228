# test_config.py — the daemon's command line and config checking.
#
# Why it exists: operators find config mistakes with `rootwalkd -t -c FILE`;
# it must accept the config the suite itself runs with and point at the
# exact file:line of a mistake.  The config check is also run against
# unbound-checkconf (RESOLVER=unbound) to prove the test itself can tell good
# from bad; the rest is rootwalkd-only.
import re
import subprocess

import pytest

from resolvers import REPO, rootwalk_config, rootwalkd_path, unbound_config


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def check_cmd(kind, path):
    if kind == "rootwalk":
        return [rootwalkd_path(), "-t", "-c", path]
    return ["unbound-checkconf", path]


def write_config(tmp_path, kind, hier_info, extra=""):
    make = rootwalk_config if kind == "rootwalk" else unbound_config
    path = tmp_path / "test.conf"
    path.write_text(make(str(tmp_path), hier_info["root_hints"], "127.0.0.1", 5399, extra))
    return str(path)


def test_good_config_accepted(tmp_path, kind, hier_info):
    path = write_config(tmp_path, kind, hier_info)
    status, out = run(check_cmd(kind, path))
    assert status == 0, out


def test_unknown_key_names_file_and_line(tmp_path, kind, hier_info):
    path = write_config(tmp_path, kind, hier_info)
    lines = open(path).read().splitlines()
    lines.insert(2, "    no-such-option: 3" if kind == "unbound" else "no-such-option: 3")
    open(path, "w").write("\n".join(lines) + "\n")
    status, out = run(check_cmd(kind, path))
    assert status != 0
    assert f"{path}:3:" in out, out


@pytest.mark.rootwalk_only
@pytest.mark.parametrize("bad", ["listen: 999.1.1.1@53", "verbosity: lots",
                                 "access-control: 10.0.0.0/33 allow", "cache-size: -5M",
                                 "listen 127.0.0.1"])
def test_bad_value_names_file_and_line(tmp_path, hier_info, bad):
    path = write_config(tmp_path, "rootwalk", hier_info)
    lines = open(path).read().splitlines()
    lines.insert(4, bad)
    open(path, "w").write("\n".join(lines) + "\n")
    status, out = run([rootwalkd_path(), "-t", "-c", path])
    assert status != 0
    assert f"{path}:5:" in out, out


@pytest.mark.rootwalk_only
def test_missing_config_file_fails(tmp_path):
    status, out = run([rootwalkd_path(), "-t", "-c", str(tmp_path / "absent.conf")])
    assert status != 0
    assert "absent.conf" in out


@pytest.mark.rootwalk_only
def test_help():
    status, out = run([rootwalkd_path(), "--help"])
    assert status == 0, out
    assert "-c" in out and "-t" in out and "-d" in out


@pytest.mark.rootwalk_only
def test_version():
    with open(f"{REPO}/meson.build") as f:
        version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
    status, out = run([rootwalkd_path(), "--version"])
    assert status == 0, out
    assert version in out
