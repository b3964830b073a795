"""Secrets a single machine generates for itself on first use.

No secret in this project has a working default: each one comes from its environment
variable or, when that is unset, from a file under ``var/secrets/`` created on first use
with mode 0600 (readable by the owner only). Several machines serving together must set
the variables to the same values.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "var" / "secrets"


def secret_file(name: str) -> Path:
    """var/secrets/<name>, or under LOCAL_SECRETS_DIR when set."""
    return Path(os.environ.get("LOCAL_SECRETS_DIR") or DEFAULT_DIR) / name


def local_secret(name: str, env_var: str,
                 generate: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """The value of ``env_var``, else the content of var/secrets/<name> (made if missing)."""
    value = os.environ.get(env_var, "").strip()
    if value:
        return value
    path = secret_file(name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(generate())
    return path.read_text(encoding="utf-8").strip()
