"""A throw-away user-space PulseAudio server with a virtual speaker and a virtual mic.

Sinks/sources (recipe from shared/FACTS.md):
  vspk       null sink: the default output; hear it by recording ``vspk.monitor``
  vmic_feed  null sink: play a file into it (``paplay -d vmic_feed x.wav``) ...
  vmic       ... and it comes out of this remap source, the default input

``activate()`` points this process at the server (environment variables read by libpulse,
which PortAudio's ALSA "pulse" device uses) and re-initialises PortAudio, which enumerates
devices only when initialised. ``deactivate()`` restores the previous environment.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from livesense.capture.devices import refresh_portaudio

RATE = 48000


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies (even if it is killed)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PulseServer:
    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self.root = tempfile.mkdtemp(prefix="livesense-pulse-")
        run = os.path.join(self.root, "run")
        self.env = {
            "XDG_RUNTIME_DIR": run,
            "PULSE_RUNTIME_PATH": os.path.join(run, "pulse"),
            "PULSE_SERVER": f"unix:{os.path.join(run, 'pulse', 'native')}",
            "HOME": os.path.join(self.root, "home"),
        }
        self.proc: subprocess.Popen | None = None
        self._saved: dict[str, str | None] = {}

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("PULSE_SOURCE", "PULSE_SINK"):
            env.pop(key, None)
        env.update(self.env)
        return env

    def start(self, timeout: float = 15.0) -> "PulseServer":
        os.makedirs(self.env["PULSE_RUNTIME_PATH"], exist_ok=True)
        os.makedirs(self.env["HOME"], exist_ok=True)
        socket = self.env["PULSE_SERVER"][len("unix:"):]
        cmd = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
               "--use-pid-file=no", "--log-target=stderr",
               # no shared memory: with SHM, libpulse can deadlock in pa_memimport_free
               # when the server is killed mid-stream (the device-lost test does that)
               "--disable-shm=yes",
               "-L", f"module-native-protocol-unix auth-anonymous=1 socket={socket}",
               "-L", f"module-null-sink sink_name=vspk rate={self.rate}",
               "-L", f"module-null-sink sink_name=vmic_feed rate={self.rate}",
               "-L", "module-remap-source source_name=vmic master=vmic_feed.monitor"]
        self.log_path = os.path.join(self.root, "pulseaudio.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=self._child_env(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self._wait_ready(timeout)
        self.pactl("set-default-sink", "vspk")
        self.pactl("set-default-source", "vmic")
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            ok = subprocess.run(["pactl", "info"], env=self._child_env(),
                                capture_output=True).returncode == 0
            if ok:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pulseaudio did not answer `pactl info` in {timeout} s:\n"
                           + self.log_tail())

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def pactl(self, *args: str) -> str:
        out = subprocess.run(["pactl", *args], env=self._child_env(), capture_output=True,
                             text=True, check=True)
        return out.stdout

    def paplay(self, path: str, device: str = "vmic_feed") -> subprocess.Popen:
        return subprocess.Popen(["paplay", "-d", device, path], env=self._child_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def activate(self) -> None:
        """Point this process (libpulse via PortAudio) at this server."""
        for key, value in self.env.items():
            self._saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        refresh_portaudio()

    def deactivate(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        refresh_portaudio()

    def kill(self) -> None:
        """Simulate a crashed sound server (device lost)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_until_listening(run: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Block until the assistant says its mic delivers frames (start-up time varies with
    load: a fixed sleep fed the first turn into a mic that was not open yet)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = run.stderr.readline()
        if "livesense: listening" in line:
            time.sleep(0.3)  # the first reply's output stream opens alongside
            return
        if not line and run.poll() is not None:
            break
    pytest.fail(f"the assistant never started listening (rc {run.poll()})")
