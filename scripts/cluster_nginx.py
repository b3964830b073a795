"""Render deploy/nginx/cluster.conf.template into var/cluster/nginx/nginx.conf.

``python scripts/cluster_nginx.py OUT_DIR`` writes ``OUT_DIR/nginx.conf`` (and the
temporary directories nginx needs); every ``{{NAME}}`` comes from the environment or the
defaults below. Values are checked: a typo in a rate fails here, not as a confusing
nginx error. The tests render the same template (tests/scaled/test_nginx.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx" / "cluster.conf.template"
PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
RATE = re.compile(r"^(\d+)(r/[sm])?$")
ADDR = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")

DEFAULTS: dict[str, str] = {
    "CLUSTER_PORT": "8080",
    "CLUSTER_LISTEN": "127.0.0.1",
    "INTERNAL_LISTEN": "127.0.0.1",
    "ACTIONS_LB_PORT": "8081",
    "RASA_API_PORT": "8082",
    "RASA1_ADDR": "127.0.0.1:5105",
    "RASA2_ADDR": "127.0.0.1:5106",
    "ACTIONS1_ADDR": "127.0.0.1:5155",
    "ACTIONS2_ADDR": "127.0.0.1:5156",
    "CONSOLE_ADDR": "127.0.0.1:5170",
    "CLUSTER_RATE_PER_IP": "10r/s",
    "CLUSTER_BURST_PER_IP": "20",
    "CLUSTER_CONN_PER_IP": "50",
    "CLUSTER_RATE_PER_OPENID": "2r/s",
    "CLUSTER_BURST_PER_OPENID": "10",
    "CLUSTER_RATE_WECHAT_PER_IP": "500r/s",
    "CLUSTER_BURST_WECHAT_PER_IP": "1000",
    # Space-separated addresses or CIDRs that may reach /console/ and the rasa API
    # through the public port; none by default.
    "CLUSTER_API_ALLOW": "",
    # The same for the back-office API (/api/v1/appeals/, the agent console): the risk
    # system's addresses; none by default.
    "CLUSTER_BACKOFFICE_ALLOW": "",
    "ACTIONS_TIMEOUT_S": "15",
}


def _rate(name: str, value: str) -> str:
    match = RATE.match(value.strip())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"{name} must look like 10r/s, 600r/m or 10 (per second), not {value!r}")
    return f"{match.group(1)}{match.group(2) or 'r/s'}"


def _positive(name: str, value: str) -> str:
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return value.strip()


def settings(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The checked values of every placeholder (environment over defaults)."""
    env = os.environ if env is None else env
    values = {name: (env.get(name) or default).strip() for name, default in DEFAULTS.items()}
    for name in ("CLUSTER_RATE_PER_IP", "CLUSTER_RATE_PER_OPENID", "CLUSTER_RATE_WECHAT_PER_IP"):
        values[name] = _rate(name, values[name])
    for name in ("CLUSTER_PORT", "ACTIONS_LB_PORT", "RASA_API_PORT", "CLUSTER_BURST_PER_IP",
                 "CLUSTER_CONN_PER_IP", "CLUSTER_BURST_PER_OPENID",
                 "CLUSTER_BURST_WECHAT_PER_IP", "ACTIONS_TIMEOUT_S"):
        values[name] = _positive(name, values[name])
    for name in ("RASA1_ADDR", "RASA2_ADDR", "ACTIONS1_ADDR", "ACTIONS2_ADDR", "CONSOLE_ADDR"):
        if not ADDR.match(values[name]):
            raise ValueError(f"{name} must be host:port, not {values[name]!r}")
    values["API_ALLOW_LINES"] = _allow_lines("CLUSTER_API_ALLOW", values)
    values["BACKOFFICE_ALLOW_LINES"] = _allow_lines("CLUSTER_BACKOFFICE_ALLOW", values)
    return values


def _allow_lines(name: str, values: dict[str, str]) -> str:
    """nginx ``allow`` lines for the addresses or CIDRs in ``values[name]`` (separated by
    spaces or commas), which is taken out of ``values``."""
    allowed = []
    for item in values.pop(name).replace(",", " ").split():
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{name} must list addresses or CIDRs, not {item!r}") from None
        allowed.append(f"            allow {item};")
    return "\n".join(allowed)


def render(run_dir: Path, env: Mapping[str, str] | None = None) -> str:
    values = {**settings(env), "RUN_DIR": str(run_dir.resolve())}
    # As root the workers drop to nobody; they only read the config and use the
    # temporary directories (made theirs by write()).
    values["USER_LINE"] = "user nobody nogroup;" if os.geteuid() == 0 else ""

    def substitute(match: re.Match[str]) -> str:
        return values[match.group(1)]  # KeyError: a placeholder without a value

    return PLACEHOLDER.sub(substitute, TEMPLATE.read_text(encoding="utf-8"))


def write(run_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """Writes ``run_dir/nginx.conf`` and the temporary directories; the config's path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        path = run_dir / "tmp" / name
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, 65534, -1)  # nobody
    config = run_dir / "nginx.conf"
    config.write_text(render(run_dir, env), encoding="utf-8")
    return config


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: cluster_nginx.py OUT_DIR", file=sys.stderr)
        return 2
    try:
        print(write(Path(argv[1])))
    except ValueError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
