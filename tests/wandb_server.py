"""A real W&B-compatible server on loopback for tests: openwandb.

openwandb (PyPI, CC-BY-NC-4.0: a test tool only, never a runtime dependency)
accepts ``wandb sync`` uploads. Its defaults are unsafe for a test machine, so
every one that matters is overridden (read in openwandb 0.5.25's config.py,
cli.py, _db_sqlite.py and auth.py):

- it listens on 0.0.0.0:8080: here 127.0.0.1 and a free port;
- its admin is admin/admin123: here a random user password;
- it keeps data in ~/.openwandb: here a temporary folder;
- anyone may register: here registration is off;
- its JWT secret is random per process: also pinned to a random value here.

Two things cannot be turned off by configuration and are why it must only
ever listen on loopback: it always accepts the hard-coded API key
``local0000…`` as its first user, and its GraphQL endpoint accepts run
uploads without any key (they are filed under the first user).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTITY = "rag-team"


@dataclass(frozen=True)
class Server:
    url: str
    api_key: str  # a key made through the server's API, not the default one
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id. openwandb keys runs by id alone (W&B keys them per
        project), so a run synced twice into two projects stays in the first."""
        try:
            return dict(_get_json(f"{self.url}/api/v2/runs/{run_id}")["run"])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def stamps(self, *run_ids: str) -> dict[str, str | None]:
        """When the server last heard of each run (``None``: never)."""
        runs = {run_id: self.run(run_id) for run_id in run_ids}
        return {k: run["updated_at"] if run else None for k, run in runs.items()}

    def runs(self, project: str, entity: str = ENTITY) -> dict[str, dict[str, Any]]:
        """The runs the server holds for ``entity/project``, by run id."""
        found = _get_json(f"{self.url}/api/v2/projects/{entity}/{project}/runs")
        return {run["run_id"]: run for run in found["runs"]}


def openwandb_executable() -> str | None:
    return shutil.which("openwandb", path=str(Path(sys.executable).parent))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(base: Path, env: dict[str, str]) -> Server:
    """Start openwandb under ``base`` and return once it answers."""
    exe = openwandb_executable()
    assert exe, "openwandb is not installed"
    port, user, password = free_port(), "ragguard-test", secrets.token_urlsafe(18)
    env = dict(
        env,
        HOME=str(base / "home"),
        OPENWANDB_DATA_DIR=str(base / "data"),
        OPENWANDB_ADMIN_USER=user,
        OPENWANDB_ADMIN_PASS=password,
        OPENWANDB_DEFAULT_TEAM=ENTITY,
        OPENWANDB_ALLOW_REGISTRATION="false",
        OPENWANDB_JWT_SECRET=secrets.token_hex(32),
    )
    log = base / "openwandb.log"
    argv = [exe, "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--data-dir", str(base / "data"), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=base
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        key = _make_api_key(url, user, password)
    except BaseException:
        stop(process)
        raise
    return Server(url, key, port, process, log)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"openwandb exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"openwandb did not answer in 60 s: {log.read_text()[-2000:]}")


def _make_api_key(url: str, user: str, password: str) -> str:
    login = _post_json(
        f"{url}/api/v2/auth/login", {"username": user, "password": password}
    )
    made = _post_json(
        f"{url}/api/v2/settings/api-keys",
        {"name": "ragguard-tests"},
        token=login["token"],
    )
    return str(made["api_key"]["key"])


def _post_json(url: str, body: object, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a listening TCP socket on ``port``
    (Linux ``/proc/net/tcp*``), e.g. ``{"127.0.0.1"}``."""
    found: set[str] = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)
