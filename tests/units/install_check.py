#!/usr/bin/env python3
"""Must-show 4: `meson install --destdir` into a temporary directory, then from the
installed tree: every program answers --version, every man page renders with
`man --warnings -l` without a warning and names all of its program's options, the
example configs are there, and the installed units pass `systemd-analyze verify --user`
(their ExecStart= paths re-rooted into the temporary directory, so verify checks that the
programs they name were installed), and DATADIR/systemd/user is where `systemctl --user`
looks for prefixes ~/.local, /usr/local and /usr.

Arguments: MESON PREFIX BINDIR MANDIR DATADIR LIBEXECDIR (meson's option values)."""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import units_common  # noqa: E402

PROGRAMS = ["lockstep-seq", "lockstep-sampler", "lockstep-capture", "lockstep-bridge",
            "lockstep-fwsim", "lockstep-ctl"]
CONFS = ["jackd", "seq", "sampler", "capture", "bridge"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def main():
    meson, prefix, bindir, mandir, datadir, libexecdir = sys.argv[1:7]
    build = os.environ["LOCKSTEP_BUILD_ROOT"]
    def under(d):  # meson's dir options are relative to prefix unless absolute
        return d if os.path.isabs(d) else os.path.join(prefix, d)
    bindir, mandir, datadir, libexecdir = map(under, (bindir, mandir, datadir, libexecdir))
    failures = []

    with tempfile.TemporaryDirectory(prefix="lockstep-install-") as dest:
        r = run([meson, "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"])
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            print("FAIL: meson install --destdir exited", r.returncode)
            return 1
        root = lambda p: dest + p  # noqa: E731

        env = dict(os.environ, LANG="C.UTF-8", MANWIDTH="80")
        env.pop("JACK_DEFAULT_SERVER", None)
        for prog in PROGRAMS:
            exe = root(os.path.join(bindir, prog))
            r = run([exe, "--version"], env=env)
            if r.returncode != 0 or not r.stdout.startswith(prog + " "):
                failures.append(f"{exe} --version: exit {r.returncode}, {r.stdout!r} {r.stderr!r}")
            help_text = run([exe, "--help"], env=env).stdout
            options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text)))
            if len(options) < 3:
                failures.append(f"{prog} --help names too few options: {options}")

            page = root(os.path.join(mandir, "man1", prog + ".1"))
            if not os.path.exists(page):
                failures.append(f"no man page {page}")
                continue
            r = run(["man", "--warnings", "-l", page], env=env)
            if r.returncode != 0 or r.stderr.strip():
                failures.append(f"man --warnings -l {page}: exit {r.returncode}, warnings:\n{r.stderr}")
            text = r.stdout.replace("\u2010", "-").replace("\u2212", "-")
            if not re.search(rf"^NAME\s*\n\s+{re.escape(prog)} - ", text, re.M):
                failures.append(f"{page}: no NAME line for {prog}")
            missing = [o for o in options if o not in text]
            if missing:
                failures.append(f"{page} does not name these options of {prog}: {missing}")
            print(f"{prog}: --version ok, man page ok ({len(options)} options)")

        for conf in CONFS:
            path = root(os.path.join(datadir, "doc", "lockstep", "examples", conf + ".conf"))
            if not os.path.exists(path):
                failures.append(f"no example {path}")
                continue
            for n, line in enumerate(open(path), 1):  # what systemd's EnvironmentFile= reads
                if line.strip() and not line.startswith("#") and not re.match(r"[A-Z_]+=", line):
                    failures.append(f"{path}:{n}: not a comment or KEY=value: {line!r}")

        wrapper = root(os.path.join(libexecdir, "lockstep", "lockstep-jackd"))
        if not os.access(wrapper, os.X_OK):
            failures.append(f"{wrapper} missing or not executable")

        unit_src = root(os.path.join(datadir, "systemd", "user"))
        with tempfile.TemporaryDirectory(prefix="lockstep-units-") as unit_dir:
            for unit in units_common.UNITS:
                path = os.path.join(unit_src, unit)
                if not os.path.exists(path):
                    failures.append(f"unit not installed: {path}")
                    continue
                text = open(path).read()
                prog = unit.removesuffix(".service")
                if prog in PROGRAMS and f"ExecStart={os.path.join(bindir, prog)} " not in text:
                    failures.append(f"{unit}: ExecStart= does not name {os.path.join(bindir, prog)}")
                for d in {bindir, libexecdir}:  # programs named by absolute path
                    text = text.replace(f"={d}/", f"={root(d)}/")
                with open(os.path.join(unit_dir, unit), "w") as f:
                    f.write(text)
            failures += units_common.verify(unit_dir, "installed units")

        with tempfile.TemporaryDirectory(prefix="lockstep-paths-") as scratch:
            code, out, err = units_common.analyze(["--user", "unit-paths"], scratch, scratch)
            paths = out.splitlines()
            home = os.path.join(scratch, "home")
            for p in (home + "/.local", "/usr/local", "/usr"):
                want = os.path.join(p, "share", "systemd", "user")
                if want not in paths:
                    failures.append(f"{want} is not in systemctl --user's unit path: {paths}")
            if os.path.relpath(datadir, prefix) != "share":
                failures.append(f"datadir {datadir} is not PREFIX/share: units would not be found")

    return units_common.report(failures)


if __name__ == "__main__":
    sys.exit(main())
