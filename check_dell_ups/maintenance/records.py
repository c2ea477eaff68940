"""The handler's durable records as plain data, with their JSON form.

Shared by the policy (which reads UPS records), the reconciler (which writes both) and
--status. No I/O here: state.py stores them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

POWER_STATES = ("battery", "mains", "unknown")
PHASES = ("normal", "entering", "maintenance", "leaving", "failed", "admin")
# What a host record's pending work aims for.
WANT_MAINTENANCE = "maintenance"
WANT_NORMAL = "normal"
# Kinds of the job a host record waits for.
JOB_DISABLE_MIGRATE = "disable-migrate"
JOB_DISABLE_SAVE = "disable-save"
JOB_ENABLE = "enable"
HISTORY_LIMIT = 40


class RecordError(ValueError):
    """A stored record does not have the expected shape."""


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: Any) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise RecordError(f"timestamp {text!r} is not a string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise RecordError(str(error)) from None
    if moment.tzinfo is None:
        raise RecordError(f"timestamp {text!r} has no UTC offset")
    return moment


@dataclass(frozen=True)
class UpsRecord:
    """What the handler last knew about one UPS's power."""

    power: str = "unknown"  # battery | mains | unknown
    since: datetime | None = None  # when power took this value (by our reckoning)
    first_seen_on_battery: datetime | None = None  # wall clock of the first sighting
    on_battery_since: datetime | None = None  # outage start by our reckoning
    called: bool = False  # maintenance called for during this outage
    called_at: datetime | None = None
    last_event_at: datetime | None = None
    last_on_battery: float | None = None
    # The last call that reported on_battery=0: no outage is longer than the time since
    # (a card's counter can be stale, still counting an earlier outage).
    last_seen_on_mains: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("since", "first_seen_on_battery", "on_battery_since", "called_at",
                    "last_event_at", "last_seen_on_mains"):
            data[key] = iso(data[key])
        return data

    @classmethod
    def from_json(cls, data: Any) -> UpsRecord:
        if not isinstance(data, dict):
            raise RecordError("UPS record is not a JSON object")
        try:
            record = cls(
                power=data.get("power", "unknown"),
                since=parse_iso(data.get("since")),
                first_seen_on_battery=parse_iso(data.get("first_seen_on_battery")),
                on_battery_since=parse_iso(data.get("on_battery_since")),
                called=bool(data.get("called", False)),
                called_at=parse_iso(data.get("called_at")),
                last_event_at=parse_iso(data.get("last_event_at")),
                last_on_battery=_optional_float(data.get("last_on_battery")),
                last_seen_on_mains=parse_iso(data.get("last_seen_on_mains")),
            )
        except (TypeError, ValueError) as error:
            raise RecordError(str(error)) from None
        if record.power not in POWER_STATES:
            raise RecordError(f"power {record.power!r} is not one of {POWER_STATES}")
        if "last_seen_on_mains" not in data and record.power == "mains":
            # A file from before the field: a mains record was last seen on mains at its
            # last event when that reported on_battery=0, else when power became mains.
            seen = record.last_event_at if record.last_on_battery == 0 else record.since
            record = replace(record, last_seen_on_mains=seen)
        return record


@dataclass(frozen=True)
class HostRecord:
    """What the handler did to one Hyper-V host, and what it still has to do."""

    phase: str = "normal"
    since: datetime | None = None
    ours: bool = False  # True once we asked SCVMM to disable it
    wanted: str | None = None  # maintenance | normal: direction of pending work
    ups: str | None = None  # the UPS whose call put it there
    job: str | None = None
    job_kind: str | None = None
    fallback_done: bool = False  # the save-mode retry after a failed migration
    # VM IDs, since VM names are not unique in VMM (older records may hold names)
    vms_running: tuple[str, ...] | None = None  # Running before our Disable
    vms_saved: tuple[str, ...] | None = None  # of those, Saved after it
    # (VM ID, VM name) of the VMs in vms_saved, as VMM named them then: the name is what
    # an Icinga host object of the VM is called by default ([icinga]).
    saved_vm_names: tuple[tuple[str, str], ...] = ()
    start_jobs: tuple[str, ...] = ()
    error: str | None = None
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # When the Disable/Enable of job_kind was sent (written before sending). With no job
    # id it means "sent, its job id lost": never sent again blindly (issue 10).
    job_started: datetime | None = None
    # The lifecycle table's state (lifecycle.py); None in older records: derived there.
    state: str | None = None

    def moved(self, phase: str, now: datetime, **changes: Any) -> HostRecord:
        """A copy in a new phase (since = now when the phase changes)."""
        since = self.since if phase == self.phase and self.since else now
        return replace(self, phase=phase, since=since, **changes)

    def noted(self, now: datetime, action: str, **details: Any) -> HostRecord:
        entry = {"at": iso(now), "action": action}
        entry.update({key: value for key, value in details.items() if value is not None})
        return replace(self, history=(*self.history, entry)[-HISTORY_LIMIT:])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = iso(self.since)
        data["job_started"] = iso(self.job_started)
        for key in ("vms_running", "vms_saved", "start_jobs", "history"):
            value = data[key]
            data[key] = list(value) if value is not None else None
        data["saved_vm_names"] = dict(self.saved_vm_names)
        return data

    @classmethod
    def from_json(cls, data: Any) -> HostRecord:
        if not isinstance(data, dict):
            raise RecordError("host record is not a JSON object")
        try:
            record = cls(
                phase=data.get("phase", "normal"),
                since=parse_iso(data.get("since")),
                ours=bool(data.get("ours", False)),
                wanted=data.get("wanted"),
                ups=data.get("ups"),
                job=data.get("job"),
                job_kind=data.get("job_kind"),
                fallback_done=bool(data.get("fallback_done", False)),
                vms_running=_optional_names(data.get("vms_running")),
                vms_saved=_optional_names(data.get("vms_saved")),
                saved_vm_names=_vm_names(data.get("saved_vm_names")),
                start_jobs=_optional_names(data.get("start_jobs")) or (),
                error=data.get("error"),
                history=tuple(data.get("history") or ()),
                job_started=parse_iso(data.get("job_started")),
                state=data.get("state"),
            )
        except (TypeError, ValueError) as error:
            raise RecordError(str(error)) from None
        if record.phase not in PHASES:
            raise RecordError(f"phase {record.phase!r} is not one of {PHASES}")
        for key in ("wanted", "ups", "job", "job_kind", "error", "state"):
            value = getattr(record, key)
            if value is not None and not isinstance(value, str):
                raise RecordError(f"{key} {value!r} is not a string")
        return record


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{value!r} is not a number")
    return float(value)


def _vm_names(value: Any) -> tuple[tuple[str, str], ...]:
    """{VM ID: VM name} (absent in older records)."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(name, str) for key, name in value.items()):
        raise RecordError(f"saved_vm_names {value!r} is not an object of strings")
    return tuple(value.items())


def _optional_names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RecordError(f"{value!r} is not a list of names")
    return tuple(value)
