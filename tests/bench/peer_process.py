"""A peer server (FreeRADIUS, micromdm scepserver) run by a benchmark: started with its
output in a log file, waited for until it answers, stopped with SIGTERM (then SIGKILL)."""

import signal
import subprocess
import time


class PeerProcess:
    def __init__(self, name, log_path):
        self.name = name
        self.log_path = log_path
        self.proc = None

    def start(self, argv, ready, timeout=30):
        """Runs argv; returns once ready() is true, raises if it exits or times out first."""
        with open(self.log_path, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready within {timeout} s; see {self.log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
