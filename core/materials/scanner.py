"""Malware scanning behind one small interface; the real one is clamd (ClamAV's daemon).

``scan`` answers clean or infected, or raises ``ScannerUnavailable`` when it cannot tell
(daemon down, timeout, a protocol error, a file over clamd's StreamMaxLength): the
pipeline then keeps the file in quarantine, never shown, and a later ``rescan`` decides.
A file is never accepted unscanned.
"""

from __future__ import annotations

import io
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import clamd

from core.materials.settings import MaterialsSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str = ""  # what was found ("Eicar-Signature"), when not clean


class ScannerUnavailable(RuntimeError):
    """The scanner could not give an answer: the file is quarantined, not accepted."""


class Scanner(ABC):
    @abstractmethod
    def scan(self, data: bytes) -> ScanResult:
        """Clean or not; raises ScannerUnavailable when it cannot tell."""

    def available(self) -> bool:
        return True


class ClamdScanner(Scanner):
    """clamd over a unix socket (Debian: /var/run/clamav/clamd.ctl) or TCP (host, port),
    streamed with INSTREAM (clamd never needs to read our files)."""

    def __init__(self, socket_path: str = "/var/run/clamav/clamd.ctl", host: str = "",
                 port: int = 3310, timeout_s: float = 30.0) -> None:
        self.socket_path = socket_path
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: MaterialsSettings) -> ClamdScanner:
        return cls(settings.clamd_socket, settings.clamd_host, settings.clamd_port,
                   settings.clamd_timeout_s)

    def _client(self) -> clamd.ClamdNetworkSocket:
        if self.host:
            return clamd.ClamdNetworkSocket(self.host, self.port, timeout=self.timeout_s)
        return clamd.ClamdUnixSocket(self.socket_path, timeout=self.timeout_s)

    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.host else self.socket_path

    def available(self) -> bool:
        try:
            return self._client().ping() == "PONG"
        except (clamd.ClamdError, OSError):
            return False

    def scan(self, data: bytes) -> ScanResult:
        try:
            answer = self._client().instream(io.BytesIO(data))
        except (clamd.ClamdError, OSError) as error:
            raise ScannerUnavailable(
                f"clamd at {self.where()}: {type(error).__name__}: {error}") from error
        status, signature = (answer or {}).get("stream", (None, None))
        if status == "OK":
            return ScanResult(True)
        if status == "FOUND":
            return ScanResult(False, str(signature or "unknown"))
        # ERROR (e.g. "INSTREAM size limit exceeded") or nothing at all: no verdict.
        raise ScannerUnavailable(f"clamd at {self.where()} answered {answer!r}")
