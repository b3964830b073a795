"""nginx in front of the replicas: the rendered config passes `nginx -t`, and a real
nginx on fake replicas (and the real agent console for the back-office API) routes,
fails over, limits and refuses as documented."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import uvicorn

from console.app import create_app
from console.config import Settings
from tests.e2e.servers import free_port
from tests.scaled.conftest import load_script

cluster_nginx = load_script("cluster_nginx")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# The back-office API (docs/backoffice.md), served by the agent console.
APPEAL_EVENTS = "/api/v1/appeals/AP20261120001/events"
REFUSED = "这个地址不对外开放。"  # nginx's own 403 page


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    if NGINX is None:
        pytest.skip("!!! nginx is not installed (apt-get install nginx-light; .ci/run does): "
                    "nginx tests SKIPPED !!!")
    return NGINX


def nginx_test(binary: str, run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "-t", "-e", "stderr", "-p", str(run_dir), "-c",
                           str(run_dir / "nginx.conf")], capture_output=True, text=True)


def test_the_rendered_config_passes_nginx_t(nginx_binary: str, tmp_path: Path) -> None:
    cluster_nginx.write(tmp_path, {"CLUSTER_PORT": str(free_port())})
    result = nginx_test(nginx_binary, tmp_path)
    assert result.returncode == 0, result.stderr


def test_settings_are_checked_before_nginx_sees_them(tmp_path: Path) -> None:
    assert cluster_nginx.settings({"CLUSTER_RATE_PER_IP": "500"})["CLUSTER_RATE_PER_IP"] \
        == "500r/s"
    for bad in ({"CLUSTER_RATE_PER_IP": "fast"}, {"CLUSTER_BURST_PER_IP": "-1"},
                {"CLUSTER_API_ALLOW": "everyone"}, {"CLUSTER_BACKOFFICE_ALLOW": "risk-system"},
                {"RASA1_ADDR": "localhost"}):
        with pytest.raises(ValueError):
            cluster_nginx.settings(bad)
    allowed = cluster_nginx.render(tmp_path, {"CLUSTER_API_ALLOW": "10.0.0.0/8,192.168.1.5"})
    assert "allow 10.0.0.0/8;" in allowed and "allow 192.168.1.5;" in allowed
    # Each allow list opens its own locations only.
    allowed = cluster_nginx.render(tmp_path, {"CLUSTER_BACKOFFICE_ALLOW": "10.20.0.0/24"})
    assert allowed.count("allow 10.20.0.0/24;") == 1
    backoffice = allowed.index("location ^~ /api/v1/appeals/")
    assert backoffice < allowed.index("allow 10.20.0.0/24;") < allowed.index("}", backoffice)


class Replica:
    """A fake rasa replica: answers every request with its own name and the path."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # no keep-alive: stop() really stops it

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps({"replica": replica.name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *_: object) -> None:
                return None

        self.server: ThreadingHTTPServer | None = None
        self.handler = Handler
        self.start()

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Cluster:
    def __init__(self, url: str, replicas: dict[str, Replica], internal_url: str) -> None:
        self.url, self.replicas, self.internal_url = url, replicas, internal_url

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


@contextmanager
def running_console(workdir: Path) -> Iterator[str]:
    """The real agent console (no background tasks, an empty database) on a free port;
    yields its host:port."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(db_url=f"sqlite:///{workdir / 'merchant.db'}",
                        rasa_url="http://127.0.0.1:9", rasa_token="unused",
                        events_db_url=f"sqlite:///{workdir / 'events.db'}")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, background=False),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the console did not start")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running_nginx(binary: str, run_dir: Path, **settings: str) -> Iterator[Cluster]:
    """nginx on two fake replicas, with the template's defaults but for ``settings``."""
    rasa1, rasa2 = Replica("rasa1"), Replica("rasa2")
    port, internal_port = free_port(), free_port()
    cluster_nginx.write(run_dir, {
        "CLUSTER_PORT": str(port), "ACTIONS_LB_PORT": str(free_port()),
        "RASA_API_PORT": str(internal_port),
        "RASA1_ADDR": rasa1.address, "RASA2_ADDR": rasa2.address, **settings,
    })
    process = subprocess.Popen(
        [binary, "-e", "stderr", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url + "/health", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read()}") from None
                time.sleep(0.05)
        yield Cluster(url, {"rasa1": rasa1, "rasa2": rasa2}, f"http://127.0.0.1:{internal_port}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        rasa1.stop()
        rasa2.stop()


@pytest.fixture(scope="module")
def cluster(nginx_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Far above what these tests send: only the rate test below meets the limit.
    with running_nginx(nginx_binary, tmp_path_factory.mktemp("nginx"),
                       CLUSTER_RATE_PER_IP="1000r/s", CLUSTER_BURST_PER_IP="1000") as running:
        yield running


def test_public_paths_reach_a_replica(cluster: Cluster) -> None:
    assert cluster.get("/health").json() == {"status": "ok"}  # nginx itself
    for method, path in (("get", "/"), ("post", "/webhooks/rest/webhook"),
                         ("post", "/webhooks/wechat/webhook?openid=o1"),
                         ("get", "/widget/widget.js"), ("get", "/socket.io/?EIO=4")):
        answer = getattr(cluster, method)(path)
        assert answer.status_code == 200, path
        assert answer.json()["replica"] in ("rasa1", "rasa2")


@pytest.mark.parametrize("path", ["/conversations/u1/tracker", "/model", "/status",
                                  "/version", "/conversations/u1/tracker/events",
                                  "/console/", "/webhooks/../model", APPEAL_EVENTS])
def test_the_rasa_api_is_refused_from_outside(cluster: Cluster, path: str) -> None:
    answer = cluster.get(path)
    assert answer.status_code == 403
    assert answer.json()["text"] == REFUSED
    assert cluster.post(path, json={}).status_code == 403


def test_the_back_office_api_reaches_the_console_only_from_its_allow_list(
    nginx_binary: str, tmp_path: Path
) -> None:
    with running_console(tmp_path / "console") as console:
        # Not in CLUSTER_BACKOFFICE_ALLOW (empty): refused by nginx, also for an address
        # that may reach the console and the rasa API (CLUSTER_API_ALLOW).
        with running_nginx(nginx_binary, tmp_path / "agents", CONSOLE_ADDR=console,
                           CLUSTER_API_ALLOW="127.0.0.1") as cluster:
            answer = cluster.post(APPEAL_EVENTS, json={})
            assert answer.status_code == 403 and answer.json()["text"] == REFUSED
            assert cluster.get("/console/").status_code != 403  # that list does work
        with running_nginx(nginx_binary, tmp_path / "risk", CONSOLE_ADDR=console,
                           CLUSTER_BACKOFFICE_ALLOW="10.20.0.0/24, 127.0.0.1") as cluster:
            # In the list: the console itself answers (an unsigned request: its own 401),
            # not nginx and not a rasa replica.
            for url in (cluster.url, cluster.internal_url):
                answer = requests.post(url + APPEAL_EVENTS, json={}, timeout=10)
                assert answer.status_code == 401, url
                assert answer.json()["error"] == "missing_signature", url
            # That list opens the back-office API only.
            for path in ("/console/", "/model", "/conversations/u1/tracker"):
                answer = cluster.get(path)
                assert answer.status_code == 403 and answer.json()["text"] == REFUSED, path


def test_a_body_over_one_megabyte_is_refused(cluster: Cluster) -> None:
    answer = cluster.post("/webhooks/rest/webhook", data=b"x" * (1024 * 1024 + 1),
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_one_conversation_stays_on_one_replica(cluster: Cluster) -> None:
    for key in ("o-merchant-1", "o-merchant-2", "o-merchant-3"):
        seen = {cluster.post(f"/webhooks/wechat/webhook?openid={key}").json()["replica"]
                for _ in range(6)}
        assert len(seen) == 1, key
        seen = {cluster.post("/webhooks/rest/webhook", headers={"X-Sender": key}
                             ).json()["replica"] for _ in range(6)}
        assert len(seen) == 1, key
    # A socket.io connection goes back to the replica that issued its session id.
    for name in ("rasa1", "rasa2"):
        for _ in range(4):
            answer = cluster.get(f"/socket.io/?EIO=4&transport=polling&sid={name}.abc")
            assert answer.json()["replica"] == name


def test_a_dead_replica_is_skipped(cluster: Cluster) -> None:
    rasa1 = cluster.replicas["rasa1"]
    rasa1.stop()
    try:
        for i in range(6):
            answer = cluster.post("/webhooks/rest/webhook", headers={"X-Sender": f"s{i}"})
            assert answer.status_code == 200 and answer.json()["replica"] == "rasa2"
            answer = cluster.post(f"/webhooks/wechat/webhook?openid=o{i}")
            assert answer.status_code == 200 and answer.json()["replica"] == "rasa2"
        answer = cluster.get("/socket.io/?EIO=4&transport=polling&sid=rasa1.abc")
        assert answer.json()["replica"] == "rasa2"  # its backup
    finally:
        rasa1.start()


def test_too_many_requests_from_one_address_get_a_polite_429(
    nginx_binary: str, tmp_path: Path
) -> None:
    with running_nginx(nginx_binary, tmp_path, CLUSTER_RATE_PER_IP="2r/s",
                       CLUSTER_BURST_PER_IP="3") as limited, requests.Session() as session:
        statuses = [session.get(limited.url + "/", timeout=10).status_code for _ in range(8)]
        assert statuses[:4] == [200] * 4  # the burst
        assert statuses.count(429) >= 3
        answer = session.post(limited.url + "/webhooks/rest/webhook", timeout=10)
        assert answer.status_code == 429
        assert answer.json()["text"] == "请求有点多，请稍等几秒再试。"
