"""The automation visible in Icinga: downtimes and a comment through Icinga 2's REST API.

Runs after the SCVMM work of every handler call (event and --retry-pending), with what
is left of the call's budget. A reconciler like the rest of the handler: it keeps
nothing about Icinga, reads what of ours exists there (author AUTHOR, text PREFIX...)
and adds or removes the difference to what the state store says (icinga_plan). Its
failures never change the handler's exit code: one log line, one note in the summary.

The API facts used here were checked against Icinga 2.13.6 (Debian 12):
- POST /v1/objects/{hosts,downtimes,comments} with `X-HTTP-Method-Override: GET` and a
  JSON body {filter, filter_vars, attrs}: a filter that matches nothing gives HTTP 200
  and empty results; results[].name is the full object name ("host!uuid").
- An ApiUser without the permission a request needs gets HTTP 404 "No objects found."
  (not 403), for queries and actions alike: here always an error naming the permission.
- An action whose filter matches nothing (permitted) answers HTTP 500 with empty
  results. Removals go by filter on `__name`, so "already gone" (a concurrent call
  removed it: done) and "not permitted" (404) are told apart.
- schedule-downtime with all_services=true also puts the host's services into child
  downtimes (attribute `parent`); remove-downtime of the host's removes them too.
- A wrong password: HTTP 401 with an HTML body.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from check_dell_ups.maintenance.config import (
    Config,
    ConfigError,
    IcingaConfig,
    read_icinga_password,
)
from check_dell_ups.maintenance.icinga_plan import (
    AUTHOR,
    COMMENT,
    DOWNTIME,
    Note,
    Plan,
    Present,
    candidate_hosts,
    is_ours,
    plan,
    wanted_notes,
)
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.records import HostRecord
from check_dell_ups.maintenance.state import StateError, StateStore

MAX_REPLY_BYTES = 8 << 20
# Below this much budget left a request is not started: it could not finish.
MIN_REQUEST_SECONDS = 0.2
NO_TIME = "no answer within the handler's budget"
# The ApiUser permissions these requests need (docs/icinga.md and
# icinga-conf/examples/api-user-dell-ups.conf list exactly these).
PERMISSIONS = (
    "objects/query/Host",
    "objects/query/Downtime",
    "objects/query/Comment",
    "actions/schedule-downtime",
    "actions/remove-downtime",
    "actions/add-comment",
    "actions/remove-comment",
)


class IcingaError(Exception):
    """One-line reason a request to Icinga's API did not do what was asked."""


class IcingaApi:
    """Icinga 2's REST API, each request ending by the deadline (time.monotonic())
    whatever the peer does: connect, TLS handshake and a reply trickled byte by byte
    all count against it (a timer shuts the socket down when it passes)."""

    def __init__(self, icinga: IcingaConfig, password: str, deadline: float, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.icinga = icinga
        self.deadline = deadline
        self.monotonic = monotonic
        credentials = base64.b64encode(f"{icinga.username}:{password}".encode()).decode()
        self._headers = {"Accept": "application/json", "Content-Type": "application/json",
                         "Authorization": f"Basic {credentials}"}
        try:
            self._context = ssl.create_default_context(cafile=icinga.ca_file)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) \
                or type(error).__name__
            raise IcingaError(f"icinga.ca_file {icinga.ca_file}: cannot be used: "
                              f"{reason}") from None

    # --- what the handler asks ---------------------------------------------------------

    def existing_hosts(self, names: Iterable[str]) -> set[str]:
        wanted = sorted(set(names))
        if not wanted:
            return set()
        results = self._query("hosts", "Host", "host.name in names", {"names": wanted},
                              ["name"])
        return {item["name"] for item in results if isinstance(item.get("name"), str)}

    def ours(self) -> list[Present]:
        """Our host downtimes and host comments (service downtimes are children of ours)."""
        present = []
        for item in self._query(
                "downtimes", "Downtime",
                'downtime.author == author && downtime.service_name == ""',
                {"author": AUTHOR}, ["host_name", "author", "comment"]):
            attrs = item.get("attrs") or {}
            if is_ours(attrs.get("author"), attrs.get("comment")):
                present.append(Present(Note(DOWNTIME, attrs["host_name"], attrs["comment"]),
                                       item["name"]))
        for item in self._query(
                "comments", "Comment",
                'comment.author == author && comment.service_name == "" '
                "&& comment.entry_type == 1",  # 1: a user comment (not a downtime's)
                {"author": AUTHOR}, ["host_name", "author", "text"]):
            attrs = item.get("attrs") or {}
            if is_ours(attrs.get("author"), attrs.get("text")):
                present.append(Present(Note(COMMENT, attrs["host_name"], attrs["text"]),
                                       item["name"]))
        return present

    def add(self, note: Note, now: datetime) -> None:
        target = {"type": "Host", "filter": "host.name == name",
                  "filter_vars": {"name": note.host}, "author": AUTHOR, "comment": note.text}
        if note.kind == DOWNTIME:
            start = int(now.timestamp())
            end = start + int(self.icinga.downtime_hours * 3600)
            self._action("schedule-downtime", {**target, "start_time": start,
                                               "end_time": end, "fixed": True,
                                               "all_services": True})
        else:
            self._action("add-comment", target)

    def remove(self, item: Present) -> None:
        kind = "downtime" if item.note.kind == DOWNTIME else "comment"
        self._action(f"remove-{kind}", {"type": kind.capitalize(),
                                        "filter": f"{kind}.__name == name",
                                        "filter_vars": {"name": item.name}},
                     gone_is_done=True)

    # --- the wire ------------------------------------------------------------------------

    def _query(self, collection: str, kind: str, filter_: str, filter_vars: dict[str, Any],
               attrs: list[str]) -> list[dict[str, Any]]:
        permission = f"objects/query/{kind}"
        status, reply = self._request(f"/v1/objects/{collection}", {
            "filter": filter_, "filter_vars": filter_vars, "attrs": attrs,
        }, method_override="GET")
        results = self._results(status, reply, f"reading {collection}", permission)
        return [item for item in results if isinstance(item, dict)
                and isinstance(item.get("name"), str)]

    def _action(self, action: str, body: dict[str, Any], *, gone_is_done: bool = False) -> None:
        permission = f"actions/{action}"
        status, reply = self._request(f"/v1/actions/{action}", body)
        if gone_is_done and status == 500 and _results_of(reply) == []:
            return  # removed meanwhile (by a concurrent call, or by an admin)
        results = self._results(status, reply, action, permission, empty_ok=False)
        for result in results:
            code = result.get("code") if isinstance(result, dict) else None
            if code != 200:
                raise IcingaError(f"{action}: {_status_text(result) or f'code {code}'}")

    def _results(self, status: int, reply: Any, what: str, permission: str, *,
                 empty_ok: bool = True) -> list[Any]:
        if status == 401:
            raise IcingaError("authentication refused (HTTP 401): check icinga.username "
                              "and icinga.password_file")
        results = _results_of(reply)
        if status == 200 and isinstance(results, list) and (results or empty_ok):
            return results
        if status == 500 and results == []:
            raise IcingaError(f"{what}: no such Icinga object")
        if status in (403, 404):
            raise IcingaError(f"{what}: HTTP {status} {_status_text(reply) or 'refused'} "
                              f"(does the ApiUser have the permission {permission}?)")
        reason = _status_text(reply) or ("no results" if status == 200 else "")
        raise IcingaError(f"{what}: HTTP {status}" + (f": {reason}" if reason else ""))

    def _request(self, path: str, body: dict[str, Any], *,
                 method_override: str | None = None) -> tuple[int, Any]:
        remaining = self.deadline - self.monotonic()
        if remaining < MIN_REQUEST_SECONDS:
            raise IcingaError(NO_TIME)
        headers = dict(self._headers)
        if method_override:
            headers["X-HTTP-Method-Override"] = method_override
        connection = http.client.HTTPSConnection(self.icinga.host, self.icinga.port,
                                                 timeout=remaining, context=self._context)
        expired = threading.Event()

        def cut() -> None:
            # Ends a blocked connect, handshake or read at once: the raw socket's
            # shutdown, never the SSL layer's (that is not safe across threads).
            expired.set()
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        timer = threading.Timer(remaining, cut)
        timer.daemon = True
        timer.start()
        try:
            connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_REPLY_BYTES + 1)
            status = response.status
        except ssl.SSLCertVerificationError as error:
            raise IcingaError(f"TLS: {error.verify_message or 'certificate refused'} "
                              "(icinga.ca_file names the CA, icinga.url the name in the "
                              "certificate)") from None
        except (OSError, http.client.HTTPException, ValueError) as error:
            if expired.is_set() or self.monotonic() >= self.deadline:
                raise IcingaError(NO_TIME) from None
            raise IcingaError(_connection_reason(error)) from None
        finally:
            timer.cancel()
            connection.close()
        if expired.is_set():
            raise IcingaError(NO_TIME)
        if len(data) > MAX_REPLY_BYTES:
            raise IcingaError(f"reply larger than {MAX_REPLY_BYTES} bytes")
        try:
            reply = json.loads(data) if data else None
        except ValueError:
            reply = None  # e.g. the HTML of a 401
        return status, reply


def update_icinga(config: Config, store: StateStore, log: HandlerLog, *, deadline: float,
                  dry_run: bool = False, now: datetime | None = None,
                  monotonic: Callable[[], float] = time.monotonic) -> str | None:
    """Bring Icinga to what the state store says. None when done (or [icinga] is
    absent), else the one-line note for the summary (already logged)."""
    icinga = config.icinga
    if icinga is None:
        return None
    try:
        return _update(config, icinga, store, log, deadline=deadline, dry_run=dry_run,
                       now=now or datetime.now(timezone.utc), monotonic=monotonic)
    except (IcingaError, ConfigError) as error:
        note = f"Icinga not updated: {error}"
    except Exception as error:  # never a traceback, never the SCVMM result changed
        note = f"Icinga not updated: internal error: {type(error).__name__}"
    log.error(note)
    return note


def _update(config: Config, icinga: IcingaConfig, store: StateStore, log: HandlerLog, *,
            deadline: float, dry_run: bool, now: datetime,
            monotonic: Callable[[], float]) -> str | None:
    records: dict[str, HostRecord] = {}
    unreadable: list[str] = []
    for host in config.all_hosts():
        try:
            records[host] = store.load_host(host, keep_aside=False)
        except StateError as error:
            unreadable.append(f"{host}: {error}")
    api = IcingaApi(icinga, read_icinga_password(icinga), deadline, monotonic=monotonic)
    known = api.existing_hosts(candidate_hosts(config, icinga, records))
    wanted = wanted_notes(config, icinga, records, known)
    steps = plan(wanted, api.ours(), may_remove=not unreadable)
    note = None
    if unreadable:
        # Its downtime may still be wanted: keep whatever of ours exists.
        note = f"Icinga: nothing removed, a host record is unreadable ({unreadable[0]})"
        log.error(note)
    _apply(api, steps, log, dry_run=dry_run, now=now)
    return note


def _apply(api: IcingaApi, steps: Plan, log: HandlerLog, *, dry_run: bool,
           now: datetime) -> None:
    # Adds first: a replaced downtime leaves no gap in which the host's checks page.
    for note in steps.add:
        if dry_run:
            log.info(f"Icinga: would add {note.kind} on {note.host}: {note.text}")
            continue
        api.add(note, now)
        log.info(f"Icinga: {note.kind} added on {note.host}: {note.text}")
    for item in steps.remove:
        if dry_run:
            log.info(f"Icinga: would remove {item.note.kind} {item.name}")
            continue
        api.remove(item)
        log.info(f"Icinga: {item.note.kind} removed from {item.note.host} ({item.name})")


def _results_of(reply: Any) -> Any:
    return reply.get("results") if isinstance(reply, dict) else None


def _status_text(reply: Any) -> str:
    text = reply.get("status") if isinstance(reply, dict) else None
    return " ".join(str(text).split())[:200] if text else ""


def _connection_reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the ApiListener running?)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the API host: {error.strerror or error}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or type(error).__name__}"
    if isinstance(error, http.client.HTTPException):
        return f"bad HTTP reply: {type(error).__name__}"
    if isinstance(error, TimeoutError):
        return NO_TIME
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(reason).split())[:200]
