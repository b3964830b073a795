"""Appeal materials: files merchants send (widget upload, WeChat images) → sanitized,
scanned, stored, recorded for their open appeal. See docs/materials.md."""

from core.materials.errors import MESSAGES, Refused, message_for
from core.materials.pipeline import (
    ACCEPTED,
    QUARANTINED,
    REFUSED,
    MaterialsPipeline,
    MaterialView,
    NotFound,
    Outcome,
)
from core.materials.sanitize import Sanitized, sanitize, sniff
from core.materials.scanner import ClamdScanner, Scanner, ScannerUnavailable, ScanResult
from core.materials.settings import MaterialsSettings
from core.materials.storage import LocalStorage, S3Storage, Storage, StorageError

__all__ = [
    "ACCEPTED", "MESSAGES", "QUARANTINED", "REFUSED", "ClamdScanner", "LocalStorage",
    "MaterialView", "MaterialsPipeline", "MaterialsSettings", "NotFound", "Outcome",
    "Refused", "S3Storage", "Sanitized", "ScanResult", "Scanner", "ScannerUnavailable",
    "Storage", "StorageError", "message_for", "sanitize", "sniff",
]
