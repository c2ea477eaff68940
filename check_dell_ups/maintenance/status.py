"""--status: what the handler believes, per configured UPS and host, as JSON or a table.

Read-only: no lock, no SCVMM, nothing copied aside (each state file is replaced
atomically, so a read sees an old or a new version, never a torn one).
"""

from __future__ import annotations

import json
from typing import Any

from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.records import HostRecord, UpsRecord, iso
from check_dell_ups.maintenance.state import StateError, StateStore


def collect_status(config: Config, store: StateStore) -> dict[str, Any]:
    """The --status --json document, exactly as DESIGN.md gives it."""
    upses: dict[str, Any] = {}
    host_cache: dict[str, dict[str, Any]] = {}
    for name, ups_config in config.ups.items():
        try:
            ups_record = store.load_ups(name, keep_aside=False)
        except StateError:
            ups_record = UpsRecord()
        hosts = {}
        for host in ups_config.hosts:
            if host not in host_cache:
                host_cache[host] = _host_entry(store, host)
            hosts[host] = host_cache[host]
        upses[name] = {
            "power": ups_record.power,
            "on_battery_since": (iso(ups_record.on_battery_since)
                                 if ups_record.power == "battery" else None),
            "hosts": hosts,
        }
    return {"ups": upses}


def _host_entry(store: StateStore, host: str) -> dict[str, Any]:
    try:
        record = store.load_host(host, keep_aside=False)
    except StateError as error:
        return {"phase": "failed", "since": None, "job": None, "error": str(error),
                "ours": False}
    return _entry(record)


def _entry(record: HostRecord) -> dict[str, Any]:
    job = record.job or (record.start_jobs[0] if record.start_jobs else None)
    return {
        "phase": record.phase,
        "since": iso(record.since),
        "job": job,
        "error": record.error,
        "ours": record.ours,
    }


def render_json(status: dict[str, Any]) -> str:
    return json.dumps(status, indent=2, sort_keys=False)


def render_table(status: dict[str, Any]) -> str:
    header = ("UPS", "POWER", "ON BATTERY SINCE", "HOST", "PHASE", "OURS", "SINCE", "JOB",
              "ERROR")
    rows: list[tuple[str, ...]] = []
    for ups, entry in status["ups"].items():
        for host, host_entry in entry["hosts"].items():
            rows.append((
                ups, entry["power"], entry["on_battery_since"] or "-", host,
                host_entry["phase"], "yes" if host_entry["ours"] else "no",
                host_entry["since"] or "-", host_entry["job"] or "-",
                host_entry["error"] or "-",
            ))
    widths = [max(len(row[column]) for row in (header, *rows))
              for column in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
