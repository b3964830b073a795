"""Secrets a single machine generates for itself on first use, and the private files
and directories under ``var/`` that hold them and the local databases.

No secret in this project has a working default: each one comes from its environment
variable or, when that is unset, from a file under ``var/secrets/`` created on first use
with mode 0600 (readable by the owner only). Several machines serving together must set
the variables to the same values.

Files are made 0600 and directories 0700 whatever the process umask is (``chmod`` after
creating); ``tighten`` narrows what an older version left readable to others.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

VAR_DIR = Path(__file__).resolve().parents[1] / "var"
DEFAULT_DIR = VAR_DIR / "secrets"
FILE_MODE, DIR_MODE, TRAVERSE_MODE = 0o600, 0o700, 0o711
NGINX_RUN_DIR = "nginx"
# What ``tighten`` makes private: databases with their journals, logs, secrets, env files.
PRIVATE_SUFFIXES = (".db", ".db-journal", ".db-wal", ".db-shm", ".sqlite", ".log", ".key")


def private_dir(path: Path) -> Path:
    """``path`` with every missing parent, each made 0700; existing ones are left as
    they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(directory, DIR_MODE)
    return path


def private_file(path: Path) -> bool:
    """An empty ``path`` (and missing parents) readable by the owner only; False when it
    exists already (then it is left alone)."""
    private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.fchmod(descriptor, FILE_MODE)
    os.close(descriptor)
    return True


def tighten(directory: Path = VAR_DIR) -> None:
    """``directory`` and its subdirectories 0700, its data, log and secret files 0600
    (for trees an older version made with the umask's modes).

    The scaled setup's nginx workers run as nobody and use temporary directories under
    ``cluster/nginx/``: that subtree is left as ``scripts/cluster_nginx.py`` made it, and
    the directories above it stay traversable (0711: not listable, files still 0600)."""
    if not directory.is_dir():
        return
    os.chmod(directory, _dir_mode(directory))
    for path in directory.rglob("*"):
        if path.is_symlink() or NGINX_RUN_DIR in path.relative_to(directory).parts[:2]:
            continue
        if path.is_dir():
            os.chmod(path, _dir_mode(path))
        elif path.name.endswith(PRIVATE_SUFFIXES) or path.parent.name == "secrets" \
                or path.name == "env":
            os.chmod(path, FILE_MODE)


def _dir_mode(directory: Path) -> int:
    holds_nginx = (directory / NGINX_RUN_DIR).is_dir() or \
        (directory / "cluster" / NGINX_RUN_DIR).is_dir()
    return TRAVERSE_MODE if holds_nginx else DIR_MODE


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
        private_dir(path.parent)
        # Written whole in a private temporary file, then linked into place: a process
        # starting at the same moment sees no file or the whole secret, never an empty one
        # (two action servers of the scaled setup start together).
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
        try:
            os.fchmod(descriptor, FILE_MODE)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(generate())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text(encoding="utf-8").strip()
