"""Start, watch and stop server processes (each in its own process group)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")

# Every rasa process: no telemetry, quiet TensorFlow, no SQLAlchemy 2.0 nagging.
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_WARN_20": "0",
}


def base_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **QUIET_ENV, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_timed(
    cmd: list[str], cwd: Path, env: Mapping[str, str], log_file: Path, timeout: float = 3600
) -> float:
    """Runs a command to completion, output to `log_file`; returns its wall time in seconds."""
    started = time.perf_counter()
    with log_file.open("w") as out:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except BaseException:
            _kill_group(process, signal.SIGKILL)
            raise
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:3])} failed ({code}), log {log_file}:\n{tail(log_file)}"
        )
    return elapsed


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _kill_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


@dataclass
class Health:
    """One URL that must answer 200 for its process to count as started."""

    name: str
    url: str
    process: subprocess.Popen
    log_file: Path


@dataclass
class ServerGroup:
    """The processes of one bot (rasa server, maybe an action server)."""

    name: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    started_at: float = 0.0

    def start(self, cmd: list[str], cwd: Path, env: Mapping[str, str], log_file: Path
              ) -> subprocess.Popen:
        if not self.processes:
            self.started_at = time.perf_counter()
        process = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), stdout=log_file.open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def wait_healthy(self, checks: list[Health], timeout: float = 300) -> dict[str, float]:
        """Polls every check until all answer; returns seconds from start to each answer."""
        ready: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while len(ready) < len(checks):
                if time.monotonic() > deadline:
                    pending = [c for c in checks if c.name not in ready]
                    raise RuntimeError(
                        f"{self.name}: not healthy after {timeout}s: "
                        + "; ".join(f"{c.name}:\n{tail(c.log_file)}" for c in pending)
                    )
                for check in checks:
                    if check.name in ready:
                        continue
                    if check.process.poll() is not None:
                        raise RuntimeError(
                            f"{self.name}/{check.name} exited early:\n{tail(check.log_file)}"
                        )
                    with suppress(requests.RequestException):
                        if session.get(check.url, timeout=2).ok:
                            ready[check.name] = time.perf_counter() - self.started_at
                time.sleep(0.05)
        return ready

    def rss_mb(self) -> float:
        return group_rss_mb([p.pid for p in self.processes])

    def stop(self) -> None:
        for process in self.processes:
            _kill_group(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _kill_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()


@contextmanager
def server_group(name: str) -> Iterator[ServerGroup]:
    group = ServerGroup(name)
    try:
        yield group
    finally:
        group.stop()


def group_rss_mb(pgids: list[int]) -> float:
    """Sum of VmRSS (MiB) of every live process in the given process groups."""
    wanted = set(pgids)
    total_kb = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            # Fields after the parenthesised command name: state ppid pgrp ...
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp not in wanted:
                continue
            for line in Path(entry.path, "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


class RssSampler:
    """Samples a group's resident memory in the background; keeps the peak."""

    def __init__(self, sample: Callable[[], float], interval: float = 0.5) -> None:
        self._sample = sample
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._sample())
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._sample())
