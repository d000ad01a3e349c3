#!/usr/bin/env python3
"""lockstep-jackd.service's start and readiness, without systemd: the wrapper starts jackd
(dummy backend, --no-realtime, a private server name) and becomes jackd itself (exec, so
systemd supervises jackd), and the unit's own ExecStartPost= command returns 0 once the
server accepts clients, and fails when no server comes. A jackd.conf that names the alsa
backend without a device is refused with exit 2 (the unit does not restart on 2)."""

import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import units_common  # noqa: E402


def exec_start_post(unit_text, server):
    line = next(l for l in unit_text.splitlines() if l.startswith("ExecStartPost="))
    return shlex.split(line.split("=", 1)[1].replace("${JACK_SERVER}", server))


def main():
    source = os.environ["LOCKSTEP_SOURCE_ROOT"]
    build = os.environ["LOCKSTEP_BUILD_ROOT"]
    wrapper = os.path.join(source, "systemd", "lockstep-jackd")
    with open(os.path.join(build, "systemd", "lockstep-jackd.service")) as f:
        unit = f.read()
    failures = []
    server = f"lockstep-units-{os.getpid()}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "JACK_SERVER": server,
           "JACK_BACKEND": "dummy", "JACK_RATE": "48000", "JACK_PERIOD": "256",
           "JACKD_OPTIONS": "--no-realtime"}

    with tempfile.TemporaryFile() as log:
        jackd = subprocess.Popen([wrapper], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            r = subprocess.run(exec_start_post(unit, server), env=env, capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0:
                failures.append(f"ExecStartPost= exited {r.returncode} with jackd running: {r.stderr}")
            with open(f"/proc/{jackd.pid}/comm") as f:
                comm = f.read().strip()
            if not comm.startswith("jackd"):
                failures.append(f"the unit's main process is {comm!r}, not jackd (no exec?)")
        finally:
            jackd.terminate()
            try:
                code = jackd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                jackd.kill()
                code = jackd.wait()
                failures.append("jackd did not end on SIGTERM")
        if failures:
            log.seek(0)
            print(log.read().decode(errors="replace"))

    # No server: the readiness check must fail (jack_wait's timeout, shortened here).
    cmd = exec_start_post(unit, server + "-absent")
    cmd[cmd.index("--timeout") + 1] = "1"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        failures.append("ExecStartPost= succeeded with no server")

    r = subprocess.run([wrapper], env=dict(env, JACK_BACKEND="alsa"), capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 2 or "JACK_DEVICE" not in r.stderr:
        failures.append(f"alsa without JACK_DEVICE: exit {r.returncode}, {r.stderr!r}")

    return units_common.report(failures)


if __name__ == "__main__":
    sys.exit(main())
