"""What the handler should have in Icinga, and the requests that get it there. Pure.

From the host records (the state store) it works out what should exist: one comment on
the Icinga host of each UPS whose hosts are ours in maintenance, and a downtime on the
Icinga host object of each such Hyper-V host and of each VM we saved. Comparing that
with what exists in Icinga that is ours gives the requests: add what is missing, remove
what is not wanted any more and every duplicate (two handlers racing may both add).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from check_dell_ups.maintenance.config import Config, IcingaConfig
from check_dell_ups.maintenance.records import (
    JOB_DISABLE_MIGRATE,
    JOB_DISABLE_SAVE,
    HostRecord,
)

# How the handler recognises its own downtimes and comments: this author and this prefix.
AUTHOR = "check_dell_ups"
PREFIX = "[check_dell_ups] "
DOWNTIME = "downtime"
COMMENT = "comment"
# The phases in which a host of ours is (or is being put) in maintenance. "leaving"
# is not among them: power is back, the host's own checks may page again.
IN_MAINTENANCE = ("entering", "maintenance")
_DISABLE = "Disable-SCVMHost"
_ENABLE = "Enable-SCVMHost"


@dataclass(frozen=True, order=True)
class Note:
    """A downtime or a comment on one Icinga host, as the handler writes it."""

    kind: str  # DOWNTIME | COMMENT
    host: str  # the Icinga host name
    text: str  # the downtime's comment or the comment's text, starting with PREFIX


@dataclass(frozen=True, order=True)
class Present:
    """One of ours that exists in Icinga: what it says and Icinga's name for it."""

    note: Note
    name: str  # Icinga's object name, e.g. "hv01!6a2f..." (what remove-* takes)


@dataclass(frozen=True)
class Plan:
    add: tuple[Note, ...]
    remove: tuple[Present, ...]

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove


def is_ours(author: object, text: object) -> bool:
    return author == AUTHOR and isinstance(text, str) and text.startswith(PREFIX)


def in_maintenance(record: HostRecord) -> bool:
    return record.ours and record.phase in IN_MAINTENANCE


def candidate_hosts(config: Config, icinga: IcingaConfig,
                    records: Mapping[str, HostRecord]) -> set[str]:
    """Every Icinga host name a note could go to: the UPS hosts, the hosts in maintenance
    and the VMs they saved (asked of Icinga to learn which of them exist)."""
    names = {icinga.ups_host(ups) for ups in config.ups}
    for host, record in records.items():
        if in_maintenance(record):
            names.add(icinga.icinga_name(host))
            names.update(saved_vm_hosts(icinga, record))
    return names


def saved_vm_hosts(icinga: IcingaConfig, record: HostRecord) -> list[str]:
    """The Icinga host names of the VMs a host's Disable saved: the name map's entry for
    the VM's ID, else for its name, else the VM's name as VMM called it (else its ID,
    from a record that kept no name)."""
    names = dict(record.saved_vm_names)
    hosts = []
    for vm_id in record.vms_saved or ():
        mapped = icinga.host_names.get(vm_id.lower())
        hosts.append(mapped or icinga.icinga_name(names.get(vm_id, vm_id)))
    return hosts


def wanted_notes(config: Config, icinga: IcingaConfig, records: Mapping[str, HostRecord],
                 known_hosts: Collection[str]) -> frozenset[Note]:
    """What should exist, on the Icinga hosts that exist (known_hosts)."""
    notes: set[Note] = set()
    downtimes: dict[str, str] = {}  # Icinga host -> its one downtime's text
    for ups_name, ups in config.ups.items():
        ours = [(host, records[host]) for host in ups.hosts
                if host in records and in_maintenance(records[host])]
        if not ours:
            continue
        ups_host = icinga.ups_host(ups_name)
        if ups_host in known_hosts:
            notes.add(Note(COMMENT, ups_host, comment_text(ups_name, ups.mode, ours)))
        for host, record in ours:
            cause = _cause(config, host, record)
            wanted = {icinga.icinga_name(host): f"{PREFIX}SCVMM maintenance mode: {host} "
                                                f"({cause})"}
            for vm_host in saved_vm_hosts(icinga, record):
                wanted.setdefault(vm_host,
                                  f"{PREFIX}VM saved by the SCVMM maintenance mode of "
                                  f"{host} ({cause})")
            for name, text in wanted.items():
                # One downtime per Icinga host, whichever text sorts first: a name map
                # may send two SCVMM names to one Icinga host.
                if name in known_hosts and (name not in downtimes or text < downtimes[name]):
                    downtimes[name] = text
    notes.update(Note(DOWNTIME, name, text) for name, text in downtimes.items())
    return frozenset(notes)


def comment_text(ups: str, configured_mode: str,
                 hosts: Iterable[tuple[str, HostRecord]]) -> str:
    described = ", ".join(
        f"{host} ({_mode(record, configured_mode)}, job {' '.join(_jobs(record)) or '-'})"
        for host, record in hosts)
    return (f"{PREFIX}UPS {ups} on battery: Hyper-V hosts put into SCVMM maintenance mode "
            f"by dell_ups_maintenance: {described}")


def plan(wanted: Collection[Note], present: Iterable[Present], *,
         may_remove: bool = True) -> Plan:
    """The requests that turn present into wanted. Of duplicates the one whose Icinga
    name sorts first is kept, so two concurrent calls keep the same one. may_remove
    False (some host record could not be read): remove duplicates only."""
    kept: set[Note] = set()
    remove: list[Present] = []
    for item in sorted(present):
        if item.note in wanted and item.note not in kept:
            kept.add(item.note)
        elif item.note in wanted or may_remove:
            remove.append(item)
    return Plan(add=tuple(sorted(set(wanted) - kept)), remove=tuple(remove))


def _cause(config: Config, host: str, record: HostRecord) -> str:
    ups = record.ups or next(iter(config.ups_of_host(host)), None)
    return f"UPS {ups} on battery" if ups else "UPS on battery"


def _mode(record: HostRecord, configured_mode: str) -> str:
    # fallback_done outlives the job: in maintenance the lifecycle keeps no job_kind.
    if record.fallback_done:
        return ("save after a failed migration" if configured_mode == "migrate"
                else "save, sent again after a failed Disable")
    if record.job_kind == JOB_DISABLE_SAVE:
        return "save"
    if record.job_kind == JOB_DISABLE_MIGRATE:
        return "migrate"
    return configured_mode


def _jobs(record: HostRecord) -> list[str]:
    """The Disable jobs of this maintenance: those in the history since the last Enable
    (the history spans outages), and the one running."""
    jobs: list[str] = []
    for entry in record.history:
        action, job = entry.get("action"), entry.get("job")
        if action == _ENABLE:
            jobs = []
        elif action == _DISABLE and isinstance(job, str) and job not in jobs:
            jobs.append(job)
    if record.job and record.job_kind in (JOB_DISABLE_MIGRATE, JOB_DISABLE_SAVE) \
            and record.job not in jobs:
        jobs.append(record.job)
    return jobs
