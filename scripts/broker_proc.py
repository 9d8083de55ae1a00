"""The real `courtier` binary as a child process, for scripts/crash_loop.py and scripts/soak.py.

Starts the broker on a given port with a given data folder, copies its log to a file, and
samples its resident memory and open file descriptors from /proc.
"""

import os
import signal
import socket
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_binary():
    return os.environ.get("COURTIER_BIN") or os.path.join(REPO, "target", "debug", "courtier")


class Broker:
    """One run of the broker; `start` again (same port, same data folder) after a kill."""

    def __init__(self, binary, port, data_dir, log_path, env=None, args=()):
        self.binary = binary
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"), COURTIER__HTTP__PORT="0")
        self.env.update(env or {})
        self.args = list(args)
        self.proc = None
        self.starts = 0

    def start(self, timeout=60.0):
        """Start and wait until the MQTT port accepts connections; returns the seconds it took."""
        t0 = time.monotonic()
        log = open(self.log_path, "ab")
        log.write(f"==> start {self.starts + 1}\n".encode())
        log.flush()
        cmd = [self.binary, "-p", str(self.port), "--data-dir", self.data_dir] + self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        log.close()
        self.starts += 1
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"courtier exited with {self.proc.returncode} (log: {self.log_path})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return time.monotonic() - t0
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"courtier did not listen on {self.port} within {timeout} s")

    def kill9(self):
        """SIGKILL: no shutdown code runs, as in a crash or a power cut of the process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout=30.0):
        """SIGTERM, the clean shutdown; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def threads(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))


class Counter:
    """A thread-safe counter."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, k=1):
        with self.lock:
            self.n += k
