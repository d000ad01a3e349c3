#!/usr/bin/env python3
"""Issue 7, must-show 3: the chaos run, on the installed rig under a real systemd --user.

The rig of usermgr_rig.py (the installed tree and units in private namespaces, jackd on
the dummy backend), patched seq -> sampler -> recorder. The sequencer plays its demo
pattern and the recorder records the sampler while, for LOCKSTEP_CHAOS_SECONDS (600: the
issue's 10 minutes), a seeded random driver (LOCKSTEP_CHAOS_SEED, printed, replays the
same choices) does one of these every 0.3-2 s:
  - SIGKILL of a client's or of jackd's main PID (systemd restarts it; the clients
    reconnect to a restarted server by themselves);
  - a flood of 200-1500 malformed OSC packets at one client (garbage, truncated and
    unaligned messages, broken and deep bundles, bad type tags, wrong and out-of-range
    arguments to real paths), after which that client must answer /ping;
  - a sample-file load into the playing sampler: a good WAV must load, a bad one (garbage,
    empty, a header only, a directory, a missing file) must be refused with /error;
  - a tempo change (state written on change).
After every event the driver keeps the music going as a user would: `seq play` when a
restarted sequencer stands, `capture start` when a restarted recorder is idle.

Afterwards, asserted:
  - every unit active/running, none failed; each unit's NRestarts equals the SIGKILLs the
    driver sent it (nothing else crashed or was restarted by its watchdog);
  - the seq plays, the recorder records, every client answers /ping;
  - the state files parse (JSON), none was set aside as corrupt (*.bad), and a last tempo
    and a last sample load survive a SIGKILL (restored after the restart);
  - every take is readable to its end by libsndfile (ctypes), and each take that a SIGKILL
    cut holds all but at most the last second before the kill: at least the frames the
    recorder had heard (frames_written + ring fill) at the status query right before it.

Arguments: MESON PREFIX (as usermgr_rig.py)."""

import ctypes
import io
import json
import os
import random
import signal
import socket
import struct
import sys
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import usermgr_rig as rigmod  # noqa: E402

log = rigmod.log
DURATION = float(os.environ.get("LOCKSTEP_CHAOS_SECONDS", "600"))
RATE = 48000
BUFFER_S = 0.5  # the recorder's --buffer (its default; no pre-roll): its ring
ROLES = ["seq", "sampler", "capture", "bridge"]
PORTS = {"seq": 9010, "sampler": 9011, "capture": 9012, "bridge": 9013}
UNIT = {r: f"lockstep-{r}.service" for r in ROLES} | {"jackd": "lockstep-jackd.service"}
CONFIGS = {
    "seq.conf": "LOCKSTEP_OPTIONS=--demo --connect out=lockstep-sampler:in\n",
    "capture.conf": f"LOCKSTEP_OPTIONS=--channels 2 --buffer {BUFFER_S} "
                    "--connect lockstep-sampler:out_L=in_1 "
                    "--connect lockstep-sampler:out_R=in_2\n",
}
# Real paths of each client, for well-formed messages with wrong arguments.
PATHS = {"seq": ["/seq/tempo", "/seq/step", "/seq/play", "/seq/pattern/length", "/query"],
         "sampler": ["/sampler/load", "/sampler/gain", "/sampler/kit", "/query"],
         "capture": ["/capture/start", "/capture/status", "/capture/stop", "/query"],
         "bridge": ["/bridge/status", "/bridge/map", "/query"]}


# --- malformed OSC ---------------------------------------------------------------------

def ostr(s):
    b = s.encode() if isinstance(s, str) else s
    return b + b"\0" * (4 - len(b) % 4)


def malformed(rng, role):
    """One packet that no client may act on, of a random kind."""
    path = rng.choice(PATHS[role])
    kind = rng.randrange(11)
    if kind == 0:  # noise
        return rng.randbytes(rng.randrange(1, 1500))
    if kind == 1:  # unaligned: no NUL padding
        return path.encode() + b",f" + b"\x01\x02"
    if kind == 2:  # type tag promises data that is not there
        return ostr(path) + ostr(",ifsb") + struct.pack(">i", 7)
    if kind == 3:  # bundle element claims more than the packet holds
        return ostr("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", 0x7FFFFFF0) + b"abcd"
    if kind == 4:  # negative element size
        return ostr("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", -8) + ostr(path)
    if kind == 5:  # deep nesting (each level well-formed)
        inner = ostr(path) + ostr(",")
        for _ in range(rng.randrange(20, 200)):
            inner = ostr("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", len(inner)) + inner
        return inner
    if kind == 6:  # unknown type tags
        return ostr(path) + ostr(",xyzQ\x7f") + rng.randbytes(16)
    if kind == 7:  # wrong types for the path
        return ostr(path) + ostr(",sss") + ostr("x" * rng.randrange(1, 900)) + ostr("") + ostr("y")
    if kind == 8:  # out-of-range integers
        n = rng.randrange(1, 5)
        return ostr(path) + ostr("," + "i" * n) + b"".join(
            struct.pack(">i", rng.choice([-2**31, -1, 2**31 - 1, 99999])) for _ in range(n))
    if kind == 9:  # blob whose size lies
        return ostr(path) + ostr(",b") + struct.pack(">i", 0x7FFFFFFF) + b"\0" * 8
    return b"hello" + rng.randbytes(rng.randrange(0, 64))  # no leading '/'


def flood(rng, role):
    n = rng.randrange(200, 1500)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        sent = 0
        for _ in range(n):
            try:
                s.sendto(malformed(rng, role), ("127.0.0.1", PORTS[role]))
                sent += 1
            except (BlockingIOError, ConnectionRefusedError, OSError):
                time.sleep(0.001)  # a full socket buffer, or nobody listening (restarting)
    return sent


# --- sample files ----------------------------------------------------------------------

def make_samples(rng, home):
    """Good WAVs (mono and stereo, 16-bit, short decaying noise) and bad files."""
    d = os.path.join(home, "samples")
    os.makedirs(d)
    good = []
    for i in range(6):
        path = os.path.join(d, f"hit{i}.wav")
        channels = 1 + i % 2
        frames = RATE // 10 + i * 1000
        data = bytearray()
        for n in range(frames):
            v = int(20000 * (1 - n / frames) * (rng.random() * 2 - 1))
            data += struct.pack("<h", v) * channels
        with wave.open(path, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(bytes(data))
        good.append(path)
    bad = []
    for name, content in (("garbage.wav", rng.randbytes(5000)), ("empty.wav", b""),
                          ("header-only.wav", open(good[0], "rb").read()[:20])):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(content)
        bad.append(path)
    os.makedirs(os.path.join(d, "a-directory.wav"))
    bad += [os.path.join(d, "a-directory.wav"), os.path.join(d, "missing.wav")]
    return good, bad


# --- takes -----------------------------------------------------------------------------

class SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def read_take(path):
    """(frames read to the end, channels) through libsndfile, or raises."""
    sf = ctypes.CDLL("libsndfile.so.1")
    sf.sf_open.restype = ctypes.c_void_p
    sf.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SfInfo)]
    sf.sf_strerror.restype = ctypes.c_char_p
    sf.sf_strerror.argtypes = [ctypes.c_void_p]
    sf.sf_readf_float.restype = ctypes.c_int64
    sf.sf_readf_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64]
    sf.sf_close.argtypes = [ctypes.c_void_p]
    info = SfInfo()
    h = sf.sf_open(path.encode(), 0x10, ctypes.byref(info))  # SFM_READ
    if not h:
        raise RuntimeError(f"{path}: {sf.sf_strerror(None).decode()}")
    try:
        chunk = 8192
        buf = (ctypes.c_float * (chunk * max(info.channels, 1)))()
        total = 0
        while True:
            got = sf.sf_readf_float(h, buf, chunk)
            if got <= 0:
                break
            total += got
        if total != info.frames:
            raise RuntimeError(f"{path}: header says {info.frames} frames, read {total}")
        return total, info.channels
    finally:
        sf.sf_close(h)


# --- the run ---------------------------------------------------------------------------

class Chaos:
    def __init__(self, rig, failures, seed):
        self.rig = rig
        self.failures = failures
        self.rng = random.Random(seed)
        self.kills = {r: 0 for r in UNIT}
        self.floods = {r: 0 for r in ROLES}
        self.packets = 0
        self.loads = {"good": 0, "bad": 0, "skipped": 0}
        self.tempos = 0
        self.nudges = {"play": 0, "start": 0}
        self.cut_takes = []  # (take name, frames heard at the last status before the kill)
        self.base_restarts = {}
        self.unexplained = {}
        self.no_server_starts = {r: NoServerStarts(rig, r) for r in ROLES}
        self.takes_dir = os.path.join(rig.home, "lockstep", "takes")

    def ctl(self, *args, timeout_ms=2000):
        """The rig's lockstep-ctl, with the chaos run's longer waits."""
        return self.rig.ctl(*args, timeout_ms=timeout_ms, timeout=60)

    def capture_status(self):
        """(state, take, frames_written, buffer_fill) or None when it does not answer."""
        r = self.ctl("capture", "status", timeout_ms=1000)
        for line in r.stdout.splitlines():
            tok = line.split()
            if tok and tok[0] == "/capture/status" and len(tok) >= 6:
                return tok[1].strip('"'), tok[2].strip('"'), int(tok[3]), float(tok[5])
        return None

    def main_pid(self, role):
        return int(self.rig.show(UNIT[role], "MainPID")["MainPID"])

    def kill(self, role):
        pid = self.main_pid(role)
        if pid == 0:
            return False  # restarting: choose something else
        if role == "capture":
            st = self.capture_status()
            if st and st[0] == "recording" and st[1]:
                ring = (BUFFER_S * RATE)
                self.cut_takes.append((st[1], st[2] + int(st[3] * ring)))
        # The unit's MainPID may have changed since it was read (a restart): only ever the
        # PID systemd names, and only while it is still that unit's.
        if self.main_pid(role) != pid:
            return False
        os.kill(pid, signal.SIGKILL)
        self.kills[role] += 1
        return True

    def load(self, good, bad):
        is_good = self.rng.random() < 0.6
        path = self.rng.choice(good if is_good else bad)
        slot = self.rng.choice([36, 37, 38, 39, 42, 46, 49, 51])
        if self.ctl("sampler", "ping", timeout_ms=500).returncode != 0:
            self.loads["skipped"] += 1  # restarting after a kill: nobody to load into
            return
        r = self.ctl("sampler", "load", str(slot), path, timeout_ms=30000)
        if r.returncode == 3:  # no reply in 30 s
            self.failures.append(f"sampler load {slot} {path}: no reply in 30 s")
        elif is_good and r.returncode != 0:
            self.failures.append(f"good file {path} into slot {slot}: exit {r.returncode} "
                                 f"{r.stdout.strip()} {r.stderr.strip()}")
        elif not is_good and r.returncode != 1:
            self.failures.append(f"bad file {path} into slot {slot}: exit {r.returncode}, "
                                 f"not refused: {r.stdout.strip()} {r.stderr.strip()}")
        else:
            self.loads["good" if is_good else "bad"] += 1

    def watch_restarts(self):
        """Logs, at once, a restart the driver did not cause, with systemd's reason."""
        for r, u in UNIT.items():
            p = self.rig.show(u, "NRestarts", "Result", "ExecMainCode", "ExecMainStatus")
            n = int(p["NRestarts"]) - self.base_restarts[r]
            known = self.kills[r] + (self.no_server_starts[r]() if r in ROLES else 0)
            if n > known and n > self.unexplained.get(r, 0) + known:
                self.unexplained[r] = n - known
                log(f"chaos: {u} restarted {n} times for {self.kills[r]} SIGKILLs: {p}")

    def keep_music_going(self):
        """As a user would: play a sequencer that stands, record with an idle recorder."""
        if self.rig.running(UNIT["seq"]) and self.rig.seq_position() is None:
            if self.ctl("seq", "play", timeout_ms=1000).returncode == 0:
                self.nudges["play"] += 1
        st = self.capture_status() if self.rig.running(UNIT["capture"]) else None
        if st and st[0] == "idle":
            if self.ctl("capture", "start", timeout_ms=1000).returncode == 0:
                self.nudges["start"] += 1

    def run(self, good, bad):
        self.base_restarts = {r: int(self.rig.show(u, "NRestarts")["NRestarts"])
                              for r, u in UNIT.items()}
        end = time.monotonic() + DURATION
        events = 0
        while time.monotonic() < end:
            what = self.rng.choices(["kill", "flood", "load", "tempo"], [3, 3, 3, 1])[0]
            if what == "kill":
                # jackd as often as any one client.
                self.kill(self.rng.choice(ROLES + ["jackd"]))
            elif what == "flood":
                role = self.rng.choice(ROLES)
                self.packets += flood(self.rng, role)
                self.floods[role] += 1
            elif what == "load":
                self.load(good, bad)
            else:
                bpm = f"{self.rng.randrange(90, 180)}.{self.rng.randrange(1000):03d}"
                if self.ctl("seq", "tempo", f"s:{bpm}", timeout_ms=1000).returncode == 0:
                    self.tempos += 1
            self.keep_music_going()
            self.watch_restarts()
            events += 1
            if events % 25 == 0:
                log(f"chaos: {events} events, {DURATION - (end - time.monotonic()):.0f} s: "
                    f"kills {self.kills}")
            time.sleep(self.rng.uniform(0.3, 2.0))
        log(f"chaos: {events} events in {DURATION:.0f} s: SIGKILLs {self.kills}; "
            f"floods {self.floods} ({self.packets} packets); sample loads {self.loads}; "
            f"tempo changes {self.tempos}; play/start after restarts {self.nudges}; "
            f"takes cut by a kill {len(self.cut_takes)}")


def settle(rig, chaos):
    """Every unit up, none failed, the music going, every client answering."""
    rig.wait("every unit active/running and none failed",
             lambda: rig.all_running() and rig.running(UNIT["jackd"]) and not rig.failed_units())

    def going():
        chaos.keep_music_going()
        st = chaos.capture_status()
        return rig.seq_plays() and st is not None and st[0] == "recording"
    rig.wait("the seq playing and the recorder recording", going)
    for role in ROLES:
        rig.wait(f"{role} answering /ping", lambda: chaos.ctl(role, "ping").returncode == 0)


# What each client's main() logs, once, when its JACK client cannot start (it then exits 3).
NO_SERVER = {"seq": "seq: cannot start the JACK client",
             "sampler": "sampler: cannot start the JACK client",
             "capture": "lockstep-capture: cannot connect to the JACK server",
             "bridge": "lockstep-bridge: cannot connect to the JACK server"}


class NoServerStarts:
    """Start-ups of the client that could not start its JACK client (the server was down,
    or went down between the open and the activation), from its unit's log. The log only
    grows (StandardOutput=append:): each call reads only what was added since the last,
    and counts its complete lines once; a last line still being written is read again."""

    def __init__(self, rig, role):
        self.path = os.path.join(rig.logs, UNIT[role] + ".log")
        self.text = NO_SERVER[role]
        self.offset = 0  # bytes of complete lines counted so far
        self.counted = 0

    def matching(self, data):
        # Decoded and split as open(path, errors="replace") would.
        return sum(self.text in line
                   for line in io.TextIOWrapper(io.BytesIO(data), errors="replace"))

    def __call__(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            new = f.read()
        complete = new.rfind(b"\n") + 1
        self.counted += self.matching(new[:complete])
        self.offset += complete
        return self.counted + self.matching(new[complete:])


def state_file(rig, role):
    env = rig.show(UNIT[role], "Environment")["Environment"].split()
    return [e.split("=", 1)[1] for e in env if e.startswith("LOCKSTEP_STATE=")][0]


def json_of(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def kill_and_wait_restart(rig, chaos, role):
    before = int(rig.show(UNIT[role], "NRestarts")["NRestarts"])
    if not chaos.kill(role):
        raise RuntimeError(f"{role} has no main PID to kill")
    rig.wait(f"{role} restarted", lambda: int(rig.show(UNIT[role], "NRestarts")["NRestarts"])
             > before and rig.running(UNIT[role]))
    rig.wait(f"{role} answering /ping", lambda: chaos.ctl(role, "ping").returncode == 0)


def check_state(rig, chaos, good, failures):
    seq_state, sampler_state = state_file(rig, "seq"), state_file(rig, "sampler")
    # The last tempo survives a SIGKILL: written on change (after a short quiet time).
    tempo = "4321/37"
    if chaos.ctl("seq", "tempo", f"s:{tempo}").returncode != 0:
        failures.append("seq tempo: refused")
    rig.wait("the tempo in the seq's state file",
             lambda: ((json_of(seq_state) or {}).get("data") or {}).get("tempo") == tempo)
    kill_and_wait_restart(rig, chaos, "seq")
    exact = [line for line in chaos.ctl("seq", "query").stdout.splitlines()
             if line.startswith("/seq/tempo/exact")]
    if not exact or exact[0].split()[1].strip('"') != tempo:
        failures.append(f"the seq's tempo after a SIGKILL: {exact}, not {tempo}")
    else:
        log(f"state: the seq's tempo {tempo} survived a SIGKILL")
    # The last good load survives a SIGKILL (a file of its own: its path says it all).
    path = os.path.join(os.path.dirname(good[-1]), "last.wav")
    with open(good[-1], "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    r = chaos.ctl("sampler", "load", "60", path, timeout_ms=30000)
    if r.returncode != 0:
        failures.append(f"sampler load 60 {path}: exit {r.returncode} {r.stderr.strip()}")

    def saved():
        data = ((json_of(sampler_state) or {}).get("data") or {}).get("slots") or []
        return any(s.get("slot") == 60 and s.get("path") == path for s in data)
    rig.wait("slot 60 in the sampler's state file", saved)
    kill_and_wait_restart(rig, chaos, "sampler")

    def restored():
        out = chaos.ctl("sampler", "query").stdout
        return any(line.split()[:2] == ["/sampler/load", "60"] and path in line
                   for line in out.splitlines())
    rig.wait("slot 60 restored after a SIGKILL", restored)
    log(f"state: the sampler's slot 60 ({os.path.basename(path)}) survived a SIGKILL")
    # Intact: both parse, and nothing was ever set aside as unreadable.
    for f in (seq_state, sampler_state):
        if json_of(f) is None:
            failures.append(f"state file {f} does not parse")
    bad = [n for n in os.listdir(os.path.dirname(seq_state)) if ".bad" in n]
    if bad:
        failures.append(f"state files set aside as unreadable: {bad}")
    log(f"state: {os.path.basename(seq_state)} and {os.path.basename(sampler_state)} parse; "
        f"no .bad file in {os.path.dirname(seq_state)}")


def check_takes(rig, chaos, failures):
    if chaos.ctl("capture", "stop").returncode != 0:
        failures.append("capture stop: refused")
    rig.wait("the last take closed", lambda: (chaos.capture_status() or ("?",))[0] == "idle")
    last = chaos.capture_status()
    takes = sorted(n for n in os.listdir(chaos.takes_dir) if n.endswith(".wav"))
    frames = {}
    for name in takes:
        try:
            frames[name[:-4]], channels = read_take(os.path.join(chaos.takes_dir, name))
            if channels != 2:
                failures.append(f"take {name}: {channels} channels, not 2")
        except RuntimeError as e:
            failures.append(f"take unreadable: {e}")
    if not takes:
        failures.append("no take was recorded")
    if last[1] not in frames or frames[last[1]] != last[2]:
        failures.append(f"the last take {last[1]}: {frames.get(last[1])} frames readable, "
                        f"the recorder wrote {last[2]}")
    worst = 0
    for name, heard in chaos.cut_takes:
        got = frames.get(name)
        if got is None:
            failures.append(f"take {name}, cut by a SIGKILL: no file")
            continue
        lost = heard - got
        worst = max(worst, lost)
        if lost > RATE:
            failures.append(f"take {name}, cut by a SIGKILL: {got} frames readable, "
                            f"{heard} heard before the kill: lost {lost / RATE:.3f} s (> 1 s)")
    log(f"takes: {len(takes)} files, all readable to the end ({sum(frames.values()) / RATE:.0f} s "
        f"of audio); {len(chaos.cut_takes)} cut by a SIGKILL, the most lost "
        f"{max(worst, 0) / RATE * 1000:.0f} ms of what had been heard before the kill "
        "(at most 1 s allowed)")


def body(rig, failures):
    seed = int(os.environ.get("LOCKSTEP_CHAOS_SEED") or time.time_ns() % 2**32)
    log(f"chaos: seed {seed} (LOCKSTEP_CHAOS_SEED={seed} replays the same choices), "
        f"{DURATION:.0f} s")
    chaos = Chaos(rig, failures, seed)
    good, bad = make_samples(random.Random(seed), rig.home)
    rig.systemctl("enable", "--now", "lockstep.target", check=True)
    rig.wait("every unit active/running", rig.all_running)
    for slot, path in zip((36, 38, 42, 46), good):
        if chaos.ctl("sampler", "load", str(slot), path, timeout_ms=30000).returncode != 0:
            raise RuntimeError(f"the first load of {path} failed")
    settle(rig, chaos)
    log("chaos: the rig is up, the seq plays into the sampler, the recorder records it")

    chaos.run(good, bad)

    settle(rig, chaos)
    restarts = {r: int(rig.show(u, "NRestarts")["NRestarts"]) - chaos.base_restarts[r]
                for r, u in UNIT.items()}
    log(f"after: every unit active/running, none failed, the seq plays, the recorder "
        f"records, every client answers; restarts {restarts}")
    # A client that systemd restarts while jackd is itself down (killed a moment before)
    # finds no server, says so and exits 3; systemd starts it again 2 s later. Those exits
    # are counted from the client's log; any other restart is a failure.
    no_server = {r: chaos.no_server_starts[r]() for r in ROLES} | {"jackd": 0}
    log(f"after: starts whose JACK client could not start: the server was down (exit 3, "
        f"restarted) {no_server}")
    for r in UNIT:
        if restarts[r] != chaos.kills[r] + no_server[r]:
            failures.append(f"{UNIT[r]}: {restarts[r]} restarts for {chaos.kills[r]} SIGKILLs "
                            f"and {no_server[r]} starts without a server (something else "
                            "crashed it, or its watchdog fired)")
    check_state(rig, chaos, good, failures)
    check_takes(rig, chaos, failures)


def inner(meson, prefix, build):
    return rigmod.in_rig(meson, prefix, build, body, CONFIGS)


if __name__ == "__main__":
    sys.exit(rigmod.main(inner, __file__, limit=DURATION + 480))
