"""A tiny W&B GraphQL server on loopback for driving the real ``wandb.Api()``.

Why not openwandb (``wandb_server.py``)? It stores uploads faithfully, but it
refuses the runs query of the installed client: wandb 0.31 sends that query
with ``"operationName": ""`` and openwandb's GraphQL library answers
``Unknown operation named ""``. So remote checks are tested against this.

What wandb 0.31's public API actually sends (captured by logging a bare
server; both requests are ``POST /graphql`` with HTTP Basic auth
``api:<key>``, through the wandb-core service process):

- ``query Viewer { viewer { id entity username email flags teams {...} } }``
  with ``operationName: "Viewer"``: sent by ``wandb.Api()`` to check the key.
  Answered with the viewer, or HTTP 401 when the key is not :attr:`key`.
- ``query Runs($project, $entity, $cursor, $perPage, $order, $filters)``
  with ``operationName: ""``: ``api.runs(...)``, one request per page;
  ``$filters`` is a JSON string in MongoDB style. Answered from
  :attr:`FakeWandb.runs`, honouring the subset of filters ragguard sends
  (``$and``, ``$or``, ``$in``, ``$gte``, ``$eq`` and equality, on ``name``,
  ``state``, ``createdAt`` and ``config.<key>``), ``order`` on
  ``created_at`` and cursor pagination. A project holding no runs is still a
  project (real W&B would say it does not exist).

Anything else gets a GraphQL error naming the operation, so a client
upgrade that sends something new fails loudly instead of passing silently.

Modes: ``"ok"``; ``"hang"``: read the request, never answer (the socket
stays open until the server stops); ``"error"``: answer every request with
HTTP 500 and a message that quotes the caller's Authorization header and
key, as a careless proxy might, to prove ragguard never repeats them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_KEY = "fa6e" * 10  # 40 characters, like a real W&B key


@dataclass
class FakeRun:
    """One run as the server stores it."""

    id: str
    state: str = "finished"
    commit: str | None = None
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    created_at: str = "2026-01-01T00:00:00"
    heartbeat_at: str | None = None
    display_name: str | None = None

    def node(self) -> dict[str, Any]:
        config = {k: {"value": v, "desc": None} for k, v in self.config.items()}
        return {
            "projectId": "1",
            "id": base64.b64encode(f"Run:{self.id}".encode()).decode(),
            "tags": list(self.tags),
            "name": self.id,
            "displayName": self.display_name or self.id,
            "sweepName": None,
            "state": self.state,
            "config": json.dumps(config),
            "group": None,
            "jobType": None,
            "commit": self.commit,
            "readOnly": False,
            "createdAt": self.created_at,
            "heartbeatAt": self.heartbeat_at or self.created_at,
            "description": None,
            "notes": None,
            "systemMetrics": "{}",
            "summaryMetrics": json.dumps(self.summary),
            "historyLineCount": 1,
            "user": {"name": "tester", "username": "tester"},
            "historyKeys": None,
        }

    def field_value(self, name: str) -> Any:
        if name == "name":
            return self.id
        if name == "state":
            return self.state
        if name == "createdAt":
            return self.created_at
        if name.startswith("config."):
            node: Any = self.config
            for part in name.split(".")[1:]:
                node = node.get(part) if isinstance(node, dict) else None
            return node
        raise ValueError(f"the fake does not filter on {name!r}")


def matches(run: FakeRun, query: Mapping[str, Any]) -> bool:
    """Whether ``run`` satisfies a MongoDB-style ``query`` (a small subset)."""
    for key, want in query.items():
        if key == "$and":
            ok = all(matches(run, part) for part in want)
        elif key == "$or":
            ok = any(matches(run, part) for part in want)
        else:
            ok = _compare(run.field_value(key), want)
        if not ok:
            return False
    return True


def _compare(value: Any, want: Any) -> bool:
    if not isinstance(want, dict):
        return bool(value == want)
    for op, operand in want.items():
        if op == "$in":
            ok = value in operand
        elif op == "$eq":
            ok = value == operand
        elif op == "$gte":  # times: W&B stores no "Z", filters may carry one
            ok = value is not None and str(value).rstrip("Z") >= operand.rstrip("Z")
        else:
            raise ValueError(f"the fake does not know {op}")
        if not ok:
            return False
    return True


@dataclass
class FakeWandb:
    """The server's state; tests add runs and read :attr:`requests`."""

    url: str = ""
    key: str = DEFAULT_KEY
    mode: str = "ok"
    entity: str = "rag-team"
    runs: dict[str, list[FakeRun]] = field(default_factory=dict)  # by project
    requests: list[dict[str, Any]] = field(default_factory=list)
    error_status: int = 403
    release: threading.Event = field(default_factory=threading.Event)

    def add(self, project: str, *runs: FakeRun) -> None:
        self.runs.setdefault(project, []).extend(runs)

    def operations(self) -> list[str]:
        """The operations received, e.g. ``["Viewer", "Runs"]``."""
        return [r["op"] for r in self.requests]


def _operation(body: Mapping[str, Any]) -> str:
    query = str(body.get("query", ""))
    for name in ("Viewer", "Runs"):
        if f"query {name}" in query:
            return name
    return str(body.get("operationName") or "unknown")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        state = self.server.state
        if self.path.startswith("/sdk/otel/"):
            state.requests.append({"op": "otel", "path": self.path})
            self._send(200, {})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            state.requests.append({"op": None, "path": self.path, "raw": raw[:300]})
            self._send(400, {"errors": [{"message": "the body is not JSON"}]})
            return
        op = _operation(body)
        state.requests.append(
            {"op": op, "path": self.path, "variables": body.get("variables")}
        )
        if op == "unknown":
            state.requests[-1]["body"] = body
        if state.mode == "hang":
            state.release.wait()
            return
        if state.mode == "error" and op != "Viewer":
            self._error_with_secrets()
        elif self._key() != state.key:
            self._send(401, {"errors": [{"message": "user is not logged in"}]})
        else:
            self._send(200, self._answer(op, body.get("variables") or {}))

    do_GET = do_POST

    def _key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return None
        user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
        return key if user == "api" else None

    def _error_with_secrets(self) -> None:
        auth = self.headers.get("authorization", "")
        message = f"upstream rejected {auth} (api key {self._key()}): try later"
        self._send(self.server.state.error_status, {"errors": [{"message": message}]})

    def _answer(self, op: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        state = self.server.state
        if op == "Viewer":
            viewer = {
                "id": "VXNlcjox",
                "entity": state.entity,
                "username": "tester",
                "email": "tester@example.com",
                "flags": "{}",
                "teams": {"edges": [{"node": {"name": state.entity}}]},
            }
            return {"data": {"viewer": viewer}}
        if op == "Runs":
            return {"data": {"project": self._project(variables)}}
        return {"errors": [{"message": f"fake server does not answer {op}"}]}

    def _project(self, variables: Mapping[str, Any]) -> dict[str, Any] | None:
        state = self.server.state
        if variables.get("entity") != state.entity:
            return None
        runs = state.runs.get(str(variables.get("project")), [])
        query = json.loads(variables.get("filters") or "{}")
        found = [run for run in runs if matches(run, query)]
        order = str(variables.get("order") or "+created_at")
        found.sort(key=lambda r: r.created_at, reverse=order.startswith("-"))
        start = int(variables.get("cursor") or 0)
        page = found[start : start + int(variables.get("perPage") or 50)]
        edges = [
            {"node": run.node(), "cursor": str(start + i + 1)}
            for i, run in enumerate(page)
        ]
        more = start + len(page) < len(found)
        return {
            "internalId": "UHJvamVjdDox",
            "runCount": len(found),
            "readOnly": False,
            "runs": {
                "edges": edges,
                "pageInfo": {"endCursor": str(start + len(page)), "hasNextPage": more},
            },
        }

    def _send(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read FakeWandb.requests


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeWandb) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def serve(state: FakeWandb | None = None) -> Iterator[FakeWandb]:
    """Run a fake W&B server on 127.0.0.1 and a free port until the block ends."""
    state = state or FakeWandb()
    server = _Server(state)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
