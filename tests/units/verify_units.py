#!/usr/bin/env python3
"""Must-show 1: every user unit passes `systemd-analyze verify --user` with exit 0 and
nothing on stderr, and its `systemd-analyze security --offline=yes` score is printed.

The units checked are meson's build-tree flavour (build/systemd/verify-*.service): the
installed units with ExecStart= pointing at the build tree's binaries, so that verify can
check that they exist. The install test verifies the installed units themselves."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import units_common  # noqa: E402


# What the issue asks of every unit, as lines (what verify cannot know).
CLIENT_LINES = ["Type=notify", "WatchdogSec=10s", "Restart=on-failure", "LimitRTPRIO=95",
                "LimitMEMLOCK=infinity", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "ProtectHome=read-only", "IPAddressDeny=any", "IPAddressAllow=localhost",
                "After=lockstep-jackd.service pipewire.service", "WantedBy=lockstep.target"]
NEVER = ("Requires=", "BindsTo=", "Requisite=", "RestrictRealtime=", "PrivateDevices=",
         "RemoveIPC=")  # they would fight the reconnect loop or break audio


def check_lines(unit, text):
    failures = []
    lines = set(text.splitlines())
    if unit.startswith("lockstep-") and unit.endswith(".service") and unit != "lockstep-jackd.service":
        role = unit[len("lockstep-"):-len(".service")]
        want = CLIENT_LINES + [f"EnvironmentFile=-%h/.config/lockstep/{role}.conf"]
        failures += [f"{unit}: no line {w!r}" for w in want if w not in lines]
    if unit.startswith("lockstep-") and unit.endswith(".service"):
        # `systemctl --user stop/restart lockstep.target` must reach every part, the
        # server included.
        if "PartOf=lockstep.target" not in lines:
            failures.append(f"{unit}: no line 'PartOf=lockstep.target'")
    failures += [f"{unit}: {line!r}" for line in lines if line.startswith(NEVER)]
    return failures


def main():
    source = os.environ["LOCKSTEP_SOURCE_ROOT"]
    build = os.environ["LOCKSTEP_BUILD_ROOT"]
    failures = []
    with tempfile.TemporaryDirectory(prefix="lockstep-units-") as unit_dir:
        for unit in units_common.UNITS:
            generated = os.path.join(build, "systemd", "verify-" + unit)
            shutil.copy(generated if os.path.exists(generated)
                        else os.path.join(source, "systemd", unit), os.path.join(unit_dir, unit))
            with open(os.path.join(unit_dir, unit)) as f:
                failures += check_lines(unit, f.read())
        failures += units_common.verify(unit_dir, "build-tree units")

        # The check must be able to fail: a misspelt key is exit 0 plus a line on stderr.
        broken = os.path.join(unit_dir, "lockstep-seq.service")
        with open(broken, "a") as f:
            f.write("\n[Service]\nProtectSystm=strict\n")
        if not units_common.verify(unit_dir, "broken unit"):
            failures.append("a unit with a misspelt key passed the check")

        with open(broken) as f:
            text = f.read()
        with open(broken, "w") as f:
            f.write(text.replace("\n[Service]\nProtectSystm=strict\n", ""))
        for unit, score in units_common.security_scores(unit_dir).items():
            print(f"systemd-analyze security --offline=yes --user {unit}: {score}")
            if not score[:1].isdigit():
                failures.append(f"{unit}: no security score: {score}")

    return units_common.report(failures)


if __name__ == "__main__":
    sys.exit(main())
