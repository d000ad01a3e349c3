"""Shared by the 'units' suite: systemd-analyze on user units in a private, empty user
environment (no running systemd, no network, no root: HOME and XDG_RUNTIME_DIR are
temporary directories, so nothing of the real user's configuration is read)."""

import os
import subprocess
import tempfile

UNITS = ["lockstep-jackd.service", "lockstep-seq.service", "lockstep-sampler.service",
         "lockstep-capture.service", "lockstep-bridge.service", "lockstep.target"]


def analyze(args, unit_dir, scratch):
    """Runs `systemd-analyze ARGS` in unit_dir with a private user environment; returns
    (exit code, stdout, stderr)."""
    home = os.path.join(scratch, "home")
    runtime = os.path.join(scratch, "run")
    os.makedirs(home, exist_ok=True)
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_RUNTIME_DIR": runtime, "LANG": "C.UTF-8", "SYSTEMD_LOG_COLOR": "0",
           "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
    r = subprocess.run(["systemd-analyze", *args], cwd=unit_dir, env=env,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def verify(unit_dir, label):
    """`systemd-analyze verify --user` on every unit in unit_dir: exit 0 and silence on
    stderr (it exits 0 on unknown keys, bad values and missing ExecStart binaries, and
    says so only there). Returns a list of failure messages."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="lockstep-units-") as scratch:
        # --man=no: the units' man pages are checked by the install test, and jackd(1)
        # may be absent where man pages are not installed.
        code, out, err = analyze(["verify", "--user", "--man=no", *UNITS], unit_dir, scratch)
        if code != 0 or err.strip():
            failures.append(f"{label}: systemd-analyze verify exited {code}, stderr:\n{err}{out}")
    return failures


def security_scores(unit_dir):
    """`systemd-analyze security --offline=yes --user` exposure score of each service."""
    scores = {}
    with tempfile.TemporaryDirectory(prefix="lockstep-units-") as scratch:
        for unit in UNITS:
            if not unit.endswith(".service"):
                continue
            code, out, err = analyze(["security", "--offline=yes", "--user", unit],
                                     unit_dir, scratch)
            last = [line for line in out.splitlines() if "Overall exposure level" in line]
            scores[unit] = last[-1].split(":", 1)[1].strip() if last else f"? (exit {code}: {err.strip()})"
    return scores


def report(failures):
    """Prints each failure; returns the test's exit code (1 if any, else 0)."""
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0
