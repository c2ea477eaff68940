"""A host's lifecycle as an explicit transition table: pure step(record, observation, now).

The one place a lifecycle rule lives: the Reconciler (reconcile.py) is a shell that
turns what it reads into observations, steps, and performs the action. Host records
(records.py) keep their phase-shaped JSON; lifecycle_of/record_for map them to and from
the table's states (older records migrate on read, as they did).

Each (state, observation) pair is one row: the next state, the one action the shell
performs, and why. An undeclared pair raises UndeclaredTransitionError: there is no
silent fall-through. Time enters only through `now` and two derived observations:
a host read just after a request whose job id was lost is `seen_in`/`seen_out`; once
the grace has passed it is `seen_in_late`/`seen_out_late`; a job still running past
STALE_JOB_SECONDS is `job_stale`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from check_dell_ups.maintenance import records
from check_dell_ups.maintenance.records import (
    JOB_DISABLE_MIGRATE,
    JOB_DISABLE_SAVE,
    JOB_ENABLE,
    HostRecord,
)

# --- states -------------------------------------------------------------------------
NORMAL = "normal"  # not in maintenance by us
ADMIN = "admin"  # in maintenance by someone else: never touched
DISABLE_DUE = "disable_due"  # maintenance called for; host to be read, then disabled
DISABLE_SENT = "disable_sent"  # Disable sent, its job id lost (link, kill)
DISABLE_RUNNING = "disable_running"  # our Disable job (migrate or save) runs
FALLBACK_CHECK = "fallback_check"  # our Disable job failed: read before the fallback
FALLBACK_DUE = "fallback_due"  # the save-mode fallback was refused: to be sent again
FALLBACK_SENT = "fallback_sent"  # the one save-mode Disable after a failure, sent
FALLBACK_RUNNING = "fallback_running"  # ... its job runs
MAINTENANCE = "maintenance"  # in maintenance by us
ENABLE_DUE = "enable_due"  # power back; host to be read, then enabled
MAINTENANCE_CHECK = "maintenance_check"  # power failed again before our Enable: read
WATCH_LOST_DISABLE = "watch_lost_disable"  # power back while a lost Disable may land
WATCH_DISABLE_JOB = "watch_disable_job"  # power back while our Disable job (id known) runs
ENABLE_SENT = "enable_sent"  # Enable sent, its job id lost
ENABLE_RUNNING = "enable_running"  # our Enable job runs
STARTING_VMS = "starting_vms"  # exit-and-start: our VM start jobs run
FAILED = "failed"  # a job failed with no fallback left: for humans

STATES = (NORMAL, ADMIN, DISABLE_DUE, DISABLE_SENT, DISABLE_RUNNING, FALLBACK_CHECK,
          FALLBACK_DUE, FALLBACK_SENT, FALLBACK_RUNNING,
          MAINTENANCE, ENABLE_DUE, MAINTENANCE_CHECK, WATCH_LOST_DISABLE, WATCH_DISABLE_JOB,
          ENABLE_SENT, ENABLE_RUNNING, STARTING_VMS, FAILED)

# --- observations -------------------------------------------------------------------
WANT_MAINTENANCE = "want_maintenance"  # policy: every UPS feeding the host calls for it
WANT_NORMAL = "want_normal"  # policy: a UPS feeding the host is on mains
SEEN_IN = "seen_in"  # SCVMM: the host is in maintenance
SEEN_OUT = "seen_out"  # SCVMM: the host is not in maintenance
SEEN_IN_LATE = "seen_in_late"  # ... read after a lost request's grace
SEEN_OUT_LATE = "seen_out_late"
REFUSED = "refused"  # SCVMM refused the request: nothing started
LINK_LOST = "link_lost"  # request sent, no answer: it may have started a job
JOB_STARTED = "job_started"  # the request's job id arrived
JOB_RUNNING = "job_running"
JOB_SUCCEEDED = "job_succeeded"
JOB_FAILED = "job_failed"
JOB_UNKNOWN = "job_unknown"  # SCVMM does not know the job (vanished)
JOB_STALE = "job_stale"  # still running after STALE_JOB_SECONDS
HAND_OVER = "hand_over"  # policy: power back with on_power_restored=none

OBSERVATIONS = (WANT_MAINTENANCE, WANT_NORMAL, HAND_OVER, SEEN_IN, SEEN_OUT, SEEN_IN_LATE,
                SEEN_OUT_LATE, REFUSED, LINK_LOST, JOB_STARTED, JOB_RUNNING, JOB_SUCCEEDED,
                JOB_FAILED, JOB_UNKNOWN, JOB_STALE)

# --- actions ------------------------------------------------------------------------
NOTHING = "nothing"
READ = "read_host"
DISABLE = "disable"  # in the record's mode (migrate or save)
DISABLE_SAVE = "disable_save"  # the save-mode fallback
ENABLE = "enable"
POLL = "poll_job"
START_VMS = "start_vms"
REPORT = "report"  # nothing in SCVMM; an error line for humans

ACTIONS = (NOTHING, READ, DISABLE, DISABLE_SAVE, ENABLE, POLL, START_VMS, REPORT)

LOST_REQUEST_GRACE = 30.0
# An Enable may take longer to show (VMM refreshes the host first); never resent anyway.
LOST_ENABLE_GRACE = 60.0
STALE_JOB_SECONDS = 1800.0


class UndeclaredTransitionError(LookupError):
    """A (state, observation) pair the table does not declare."""


@dataclass(frozen=True)
class Lifecycle:
    """What the table needs of a host record."""

    state: str = NORMAL
    job: str | None = None
    job_started: datetime | None = None  # when the request was sent
    fallback_done: bool = False
    wants_vm_start: bool = False  # exit-and-start and VMs of ours were saved


@dataclass(frozen=True)
class Row:
    next_state: str
    action: str
    why: str


def _rows() -> dict[tuple[str, str], Row]:
    table: dict[tuple[str, str], Row] = {}

    def row(states: str | tuple[str, ...], observations: str | tuple[str, ...],
            next_state: str | None, action: str, why: str) -> None:
        for state in (states,) if isinstance(states, str) else states:
            for observation in (observations,) if isinstance(observations, str) \
                    else observations:
                key = (state, observation)
                if key in table:
                    raise ValueError(f"row {key} declared twice")
                table[key] = Row(next_state or state, action, why)

    reads = (SEEN_IN, SEEN_OUT, SEEN_IN_LATE, SEEN_OUT_LATE)
    answers = (REFUSED, LINK_LOST, JOB_STARTED)
    job_news = (JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_UNKNOWN, JOB_STALE)
    settled = (NORMAL, ADMIN, MAINTENANCE, FAILED)

    # Answers to requests we did not send and news of jobs we do not follow: stale
    # messages from an earlier call; the state stays, nothing is done.
    row((*settled, DISABLE_DUE, ENABLE_DUE, MAINTENANCE_CHECK, FALLBACK_CHECK, FALLBACK_DUE),
        answers, None,
        NOTHING, "an answer to no request of ours: ignored")
    row((*settled, DISABLE_DUE, ENABLE_DUE, MAINTENANCE_CHECK, DISABLE_SENT, ENABLE_SENT,
         FALLBACK_CHECK,
         FALLBACK_DUE, FALLBACK_SENT),
        job_news, None, NOTHING, "news of no job we follow: ignored")

    # power back with on_power_restored=none: what we put (or were putting) into
    # maintenance becomes the admins'; `none` never enables
    row((NORMAL, ADMIN), HAND_OVER, None, NOTHING, "nothing of ours to hand over")
    row(DISABLE_DUE, HAND_OVER, NORMAL, NOTHING,
        "power restored before we asked SCVMM for anything: back to normal")
    row((DISABLE_SENT, DISABLE_RUNNING, FALLBACK_CHECK, FALLBACK_DUE, FALLBACK_SENT,
         FALLBACK_RUNNING, MAINTENANCE, FAILED, WATCH_LOST_DISABLE, WATCH_DISABLE_JOB,
         ENABLE_DUE, MAINTENANCE_CHECK), HAND_OVER,
        ADMIN, NOTHING, "power restored, on_power_restored=none: left in maintenance and "
        "handed over to the admins")
    row(ENABLE_SENT, HAND_OVER, None, READ, "our Enable is out already: did it land? read")
    row((ENABLE_RUNNING, STARTING_VMS), HAND_OVER, None, POLL,
        "our Enable (or VM starts) already run: let them end")

    # normal
    row(NORMAL, WANT_MAINTENANCE, DISABLE_DUE, READ,
        "maintenance called for: read the host first (in maintenance = an admin's)")
    row(NORMAL, WANT_NORMAL, None, NOTHING, "on mains and normal: nothing to do")
    row(NORMAL, reads, None, NOTHING, "a read with nothing due changes nothing")

    # admin: never touched, whatever is called for
    row(ADMIN, WANT_NORMAL, None, NOTHING,
        "an admin's maintenance: never touched, now or on recovery")
    row(ADMIN, WANT_MAINTENANCE, None, READ,
        "never touched; read: the admin may have ended it since (then it is ordinary)")
    row(ADMIN, (SEEN_IN, SEEN_IN_LATE), None, NOTHING, "still the admin's")
    row(ADMIN, (SEEN_OUT, SEEN_OUT_LATE), NORMAL, NOTHING,
        "the admin ended it: an ordinary host again")

    # disable due
    row(DISABLE_DUE, WANT_MAINTENANCE, None, READ, "still called for: read, then disable")
    row(DISABLE_DUE, WANT_NORMAL, NORMAL, NOTHING,
        "power back before we asked SCVMM anything")
    row(DISABLE_DUE, (SEEN_IN, SEEN_IN_LATE), ADMIN, NOTHING,
        "already in maintenance and we sent nothing: an admin's")
    row(DISABLE_DUE, (SEEN_OUT, SEEN_OUT_LATE), DISABLE_SENT, DISABLE,
        "not in maintenance: Disable (the record says 'sent' before it goes out)")

    # disable sent, job id unknown
    row(DISABLE_SENT, JOB_STARTED, DISABLE_RUNNING, POLL, "its job id arrived: follow it")
    row(DISABLE_SENT, REFUSED, DISABLE_DUE, NOTHING,
        "refused: nothing started, the next read decides again")
    row(DISABLE_SENT, LINK_LOST, None, NOTHING,
        "sent, no answer: it may run; look at the host later, never send it twice")
    row(DISABLE_SENT, WANT_MAINTENANCE, None, READ, "did it land? read the host")
    row(DISABLE_SENT, WANT_NORMAL, WATCH_LOST_DISABLE, READ,
        "power back while the lost Disable may still land: watch the host")
    row(DISABLE_SENT, (SEEN_IN, SEEN_IN_LATE), MAINTENANCE, NOTHING,
        "it landed: in maintenance by us")
    row(DISABLE_SENT, SEEN_OUT, None, NOTHING, "may still be starting: wait, do not resend")
    row(DISABLE_SENT, SEEN_OUT_LATE, FALLBACK_SENT, DISABLE_SAVE,
        "never showed: the one save-mode fallback (VMM refuses it while a job locks the host)")

    # disable running (our job, id known)
    row(DISABLE_RUNNING, WANT_MAINTENANCE, None, POLL, "wait for our job")
    row(DISABLE_RUNNING, WANT_NORMAL, WATCH_DISABLE_JOB, POLL,
        "power back mid-job: let it end, then enable")
    row(DISABLE_RUNNING, reads, None, POLL, "the job decides, not a read")
    row(DISABLE_RUNNING, answers, None, POLL, "our job already runs")
    row(DISABLE_RUNNING, JOB_RUNNING, None, POLL, "still running")
    row(DISABLE_RUNNING, JOB_SUCCEEDED, MAINTENANCE, NOTHING, "in maintenance by us")
    row(DISABLE_RUNNING, JOB_FAILED, FALLBACK_CHECK, READ,
        "migration failed: read first (an admin may have acted since), then the fallback")
    row(DISABLE_RUNNING, (JOB_UNKNOWN, JOB_STALE), DISABLE_SENT, READ,
        "job vanished or hangs: as good as lost; the host decides")

    # fallback check (after our Disable job failed), due (refused) and sent
    row(FALLBACK_CHECK, WANT_MAINTENANCE, None, READ, "read, then the fallback")
    row(FALLBACK_CHECK, WANT_NORMAL, NORMAL, NOTHING,
        "power back and our Disable failed: nothing of ours to bring back")
    row(FALLBACK_CHECK, (SEEN_IN, SEEN_IN_LATE), ADMIN, NOTHING,
        "our job failed, yet in maintenance: someone else's; never touched")
    row(FALLBACK_CHECK, (SEEN_OUT, SEEN_OUT_LATE), FALLBACK_SENT, DISABLE_SAVE,
        "the one save-mode fallback, as PowerChute does")
    row(FALLBACK_DUE, WANT_MAINTENANCE, None, READ, "read, then send the fallback again")
    row(FALLBACK_DUE, WANT_NORMAL, WATCH_LOST_DISABLE, READ,
        "power back: our first Disable may still land; watch the host, enable if it does")
    row(FALLBACK_DUE, (SEEN_IN, SEEN_IN_LATE), MAINTENANCE, NOTHING,
        "in maintenance after our Disable: ours")
    row(FALLBACK_DUE, (SEEN_OUT, SEEN_OUT_LATE), FALLBACK_SENT, DISABLE_SAVE,
        "the refused fallback, sent again (nothing started the first time)")
    row(FALLBACK_SENT, JOB_STARTED, FALLBACK_RUNNING, POLL, "its job id arrived: follow it")
    row(FALLBACK_SENT, REFUSED, FALLBACK_DUE, NOTHING,
        "refused (our first job may still lock the host): read again later")
    row(FALLBACK_SENT, LINK_LOST, None, NOTHING, "sent, no answer: it may run; never twice")
    row(FALLBACK_SENT, WANT_MAINTENANCE, None, READ, "did it land? read the host")
    row(FALLBACK_SENT, WANT_NORMAL, WATCH_LOST_DISABLE, READ,
        "power back while the lost fallback may still land: watch the host")
    row(FALLBACK_SENT, (SEEN_IN, SEEN_IN_LATE), MAINTENANCE, NOTHING, "it landed: ours")
    row(FALLBACK_SENT, SEEN_OUT, None, NOTHING, "may still be starting: wait")
    row(FALLBACK_SENT, SEEN_OUT_LATE, FAILED, REPORT,
        "the fallback never showed: no second fallback; for humans")

    # fallback running
    row(FALLBACK_RUNNING, WANT_MAINTENANCE, None, POLL, "wait for the fallback")
    row(FALLBACK_RUNNING, WANT_NORMAL, WATCH_DISABLE_JOB, POLL,
        "power back mid-fallback: let it end, then enable")
    row(FALLBACK_RUNNING, reads + answers, None, POLL, "the fallback job decides")
    row(FALLBACK_RUNNING, JOB_RUNNING, None, POLL, "still running")
    row(FALLBACK_RUNNING, JOB_SUCCEEDED, MAINTENANCE, NOTHING, "in maintenance by us (saved)")
    row(FALLBACK_RUNNING, (JOB_FAILED, JOB_UNKNOWN, JOB_STALE), FAILED, REPORT,
        "the fallback failed too: no second fallback; for humans")

    # maintenance (ours)
    row(MAINTENANCE, WANT_MAINTENANCE, None, NOTHING, "done")
    row(MAINTENANCE, WANT_NORMAL, ENABLE_DUE, READ, "power back: read, then enable")
    row(MAINTENANCE, reads, None, NOTHING, "a read with nothing due changes nothing")

    # enable due
    row(ENABLE_DUE, WANT_NORMAL, None, READ, "still on mains: read, then enable")
    row(ENABLE_DUE, WANT_MAINTENANCE, MAINTENANCE_CHECK, READ,
        "power failed again before we sent Enable: read (someone may have enabled it)")

    # power failed again before our Enable went out
    row(MAINTENANCE_CHECK, WANT_MAINTENANCE, None, READ, "read: still in maintenance?")
    row(MAINTENANCE_CHECK, WANT_NORMAL, ENABLE_DUE, READ, "power back again: read, then enable")
    row(MAINTENANCE_CHECK, (SEEN_IN, SEEN_IN_LATE), MAINTENANCE, NOTHING,
        "still in maintenance by us: nothing to do until power returns")
    row(MAINTENANCE_CHECK, (SEEN_OUT, SEEN_OUT_LATE), DISABLE_SENT, DISABLE,
        "someone enabled it meanwhile: this outage's Disable")
    row(ENABLE_DUE, (SEEN_IN, SEEN_IN_LATE), ENABLE_SENT, ENABLE,
        "in maintenance: Enable (the record says 'sent' before it goes out)")
    row(ENABLE_DUE, (SEEN_OUT, SEEN_OUT_LATE), NORMAL, NOTHING,
        "someone enabled it already: done")

    # power back while a lost Disable may still land
    row(WATCH_LOST_DISABLE, WANT_NORMAL, None, READ, "look again")
    row(WATCH_LOST_DISABLE, WANT_MAINTENANCE, DISABLE_SENT, READ,
        "power failed again: back to waiting for the lost Disable")
    row(WATCH_LOST_DISABLE, (SEEN_IN, SEEN_IN_LATE), ENABLE_SENT, ENABLE,
        "the Disable landed after power returned: enable")
    row(WATCH_LOST_DISABLE, SEEN_OUT, None, NOTHING, "it may still land: look again later")
    row(WATCH_LOST_DISABLE, SEEN_OUT_LATE, NORMAL, NOTHING, "it never landed: normal")
    row(WATCH_LOST_DISABLE, answers, None, NOTHING, "no request is out: ignored")
    row(WATCH_LOST_DISABLE, JOB_RUNNING, None, POLL, "our Disable still runs: wait")
    row(WATCH_LOST_DISABLE, JOB_SUCCEEDED, ENABLE_DUE, READ,
        "our Disable ended in maintenance after power returned: enable")
    row(WATCH_LOST_DISABLE, JOB_FAILED, NORMAL, NOTHING,
        "our Disable failed: nothing of ours will land; whoever disables it now is an admin")
    row(WATCH_LOST_DISABLE, (JOB_UNKNOWN, JOB_STALE), None, NOTHING,
        "job gone: watch the host by reads")

    # power back while our Disable job (id known) runs: follow it, however long it hangs
    row(WATCH_DISABLE_JOB, WANT_NORMAL, None, POLL, "follow our Disable job")
    row(WATCH_DISABLE_JOB, WANT_MAINTENANCE, DISABLE_RUNNING, POLL,
        "power failed again: our Disable job is what is called for")
    row(WATCH_DISABLE_JOB, reads + answers, None, POLL, "the job decides")
    row(WATCH_DISABLE_JOB, JOB_RUNNING, None, POLL, "still running")
    row(WATCH_DISABLE_JOB, JOB_STALE, WATCH_LOST_DISABLE, READ,
        "hangs: the host decides (in maintenance: enable); it may still land, so the "
        "watch by reads runs on from now")
    row(WATCH_DISABLE_JOB, JOB_SUCCEEDED, ENABLE_DUE, READ,
        "our Disable ended in maintenance after power returned: enable")
    row(WATCH_DISABLE_JOB, JOB_FAILED, NORMAL, NOTHING,
        "our Disable failed: nothing of ours landed")
    row(WATCH_DISABLE_JOB, JOB_UNKNOWN, WATCH_LOST_DISABLE, READ,
        "job vanished: it may have landed; watch the host by reads")

    # enable sent, job id unknown
    row(ENABLE_SENT, JOB_STARTED, ENABLE_RUNNING, POLL, "its job id arrived: follow it")
    row(ENABLE_SENT, REFUSED, ENABLE_DUE, NOTHING, "refused: nothing started; read again")
    row(ENABLE_SENT, LINK_LOST, None, NOTHING,
        "sent, no answer: it may land; never send it twice")
    row(ENABLE_SENT, (WANT_NORMAL, WANT_MAINTENANCE), None, READ, "did it land? read")
    row(ENABLE_SENT, (SEEN_OUT, SEEN_OUT_LATE), NORMAL, START_VMS,
        "it landed (start our saved VMs when exit-and-start)")
    row(ENABLE_SENT, SEEN_IN, None, NOTHING, "may still be starting: wait, never resend")
    row(ENABLE_SENT, SEEN_IN_LATE, ADMIN, REPORT,
        "race 8: in maintenance after the grace; our Enable may have landed and an admin "
        "disabled it since: never enabled again, handed over with an error")

    # enable running
    row(ENABLE_RUNNING, (WANT_NORMAL, WANT_MAINTENANCE), None, POLL, "wait for our job")
    row(ENABLE_RUNNING, reads + answers, None, POLL, "the job decides")
    row(ENABLE_RUNNING, JOB_RUNNING, None, POLL, "still running")
    row(ENABLE_RUNNING, JOB_SUCCEEDED, NORMAL, START_VMS,
        "out of maintenance (start our saved VMs when exit-and-start)")
    row(ENABLE_RUNNING, JOB_FAILED, ENABLE_DUE, REPORT,
        "Enable failed (it did not land): reported; the next call reads and tries again")
    row(ENABLE_RUNNING, JOB_UNKNOWN, ENABLE_SENT, READ,
        "job vanished: it may have run; never resent, the host decides")
    row(ENABLE_RUNNING, JOB_STALE, ENABLE_DUE, READ,
        "job hangs (SCVMM still shows it unfinished, so it did not enable): read, enable "
        "again (VMM refuses while the hung job locks the host)")

    # starting VMs
    row(STARTING_VMS, (WANT_NORMAL, WANT_MAINTENANCE), None, POLL, "wait for the starts")
    row(STARTING_VMS, reads + answers, None, POLL, "the start jobs decide")
    row(STARTING_VMS, JOB_RUNNING, None, POLL, "still starting")
    row(STARTING_VMS, (JOB_SUCCEEDED, JOB_FAILED, JOB_UNKNOWN, JOB_STALE), NORMAL, NOTHING,
        "starts ended (a failed start is reported, never retried)")

    # failed
    row(FAILED, WANT_MAINTENANCE, None, NOTHING,
        "our Disable and its fallback failed: humans decide; --status shows it")
    row(FAILED, WANT_NORMAL, WATCH_LOST_DISABLE, READ,
        "power back: bring back whatever our failed Disable did, even if it lands late")
    row(FAILED, reads, None, NOTHING, "humans decide")
    return table


TABLE: dict[tuple[str, str], Row] = _rows()


def refine(lifecycle: Lifecycle, observation: str, now: datetime) -> str:
    """Time-derived observations: a read after a lost request's grace, a stale job."""
    age = None
    if lifecycle.job_started is not None:
        age = (now - lifecycle.job_started).total_seconds()
    # Watching for a lost Disable after power returned: as long as a job may run, since
    # one landing after we called the host normal would leave it in maintenance.
    grace = STALE_JOB_SECONDS if lifecycle.state == WATCH_LOST_DISABLE else \
        LOST_ENABLE_GRACE if lifecycle.state == ENABLE_SENT else LOST_REQUEST_GRACE
    expired = age is None or age < 0 or age >= grace
    if observation in (SEEN_IN, SEEN_OUT) and expired and lifecycle.state in (
            DISABLE_SENT, FALLBACK_SENT, ENABLE_SENT, WATCH_LOST_DISABLE):
        return SEEN_IN_LATE if observation == SEEN_IN else SEEN_OUT_LATE
    if observation == JOB_RUNNING and age is not None and age >= STALE_JOB_SECONDS:
        return JOB_STALE
    return observation


def step(lifecycle: Lifecycle, observation: str, now: datetime) -> tuple[Lifecycle, str]:
    """The next lifecycle and the action for the shell. Pure."""
    observation = refine(lifecycle, observation, now)
    try:
        row = TABLE[(lifecycle.state, observation)]
    except KeyError:
        raise UndeclaredTransitionError(
            f"no row for state {lifecycle.state!r} and observation {observation!r}") from None
    action = row.action
    changes: dict[str, object] = {"state": row.next_state}
    if action in (DISABLE, DISABLE_SAVE, ENABLE):
        changes.update(job=None, job_started=now)
    if action == DISABLE_SAVE:
        changes["fallback_done"] = True
    if action == DISABLE:  # a new outage's Disable: its own save fallback
        changes["fallback_done"] = False
    if action == START_VMS:
        # Only with VMs of ours saved and exit-and-start; else straight to normal.
        if lifecycle.wants_vm_start:
            changes["state"] = STARTING_VMS
        else:
            action = NOTHING
    if row.next_state == WATCH_LOST_DISABLE != lifecycle.state:
        # The watch for a Disable of ours landing late runs from now (power return): a
        # job given up as hung may still end, long after its request was sent.
        changes["job_started"] = now
    if observation in (JOB_SUCCEEDED, JOB_FAILED, JOB_UNKNOWN, JOB_STALE):
        changes["job"] = None  # a job that ended or is given up is followed no longer
    if row.next_state in (NORMAL, ADMIN) and lifecycle.state != row.next_state:
        changes.update(job=None, job_started=None, fallback_done=False)
    return replace(lifecycle, **changes), action  # type: ignore[arg-type]


def with_job(lifecycle: Lifecycle, job: str) -> Lifecycle:
    """The shell got a job id for the request it just sent."""
    return replace(lifecycle, job=job)


def why(lifecycle: Lifecycle, observation: str, now: datetime) -> str:
    """The reason the row step() takes gives, for the log."""
    return TABLE[(lifecycle.state, refine(lifecycle, observation, now))].why


# --- host records <-> table states ------------------------------------------------------
# The JSON record keeps its phase (for --status, older readers and the policy); the
# state is stored next to it, and derived from the phase and fields when absent (older
# records, records written by hand).
PHASE_OF = {NORMAL: "normal", ADMIN: "admin", MAINTENANCE: "maintenance", FAILED: "failed",
            **dict.fromkeys((DISABLE_DUE, DISABLE_SENT, DISABLE_RUNNING, FALLBACK_CHECK,
                             FALLBACK_DUE, FALLBACK_SENT, FALLBACK_RUNNING), "entering"),
            **dict.fromkeys((ENABLE_DUE, MAINTENANCE_CHECK, WATCH_LOST_DISABLE,
                             WATCH_DISABLE_JOB, ENABLE_SENT, ENABLE_RUNNING, STARTING_VMS),
                            "leaving")}
# Under way: a request or job of ours may still change the host; the next call resumes.
UNDER_WAY = (DISABLE_SENT, DISABLE_RUNNING, FALLBACK_SENT, FALLBACK_RUNNING,
             WATCH_LOST_DISABLE, WATCH_DISABLE_JOB, ENABLE_SENT, ENABLE_RUNNING, STARTING_VMS)
_WITH_JOB = (DISABLE_RUNNING, FALLBACK_RUNNING, ENABLE_RUNNING, WATCH_DISABLE_JOB)
_NOT_OURS = (NORMAL, ADMIN, DISABLE_DUE)  # DISABLE_DUE: nothing of ours started yet
_DISABLE_KINDS = (JOB_DISABLE_MIGRATE, JOB_DISABLE_SAVE)


def state_of(record: HostRecord) -> str:
    """The table state a host record is in."""
    if record.state in PHASE_OF and PHASE_OF[record.state] == record.phase:
        return record.state
    phase = record.phase
    if phase == "entering":
        if not record.ours:
            return DISABLE_DUE
        if record.fallback_done:
            if record.job:
                return FALLBACK_RUNNING
            return FALLBACK_SENT if record.job_started else FALLBACK_DUE
        # Ours with no job: a Disable sent (or about to be) whose job id was lost.
        return DISABLE_RUNNING if record.job else DISABLE_SENT
    if phase == "leaving":
        if record.start_jobs:
            return STARTING_VMS
        if record.job_kind in _DISABLE_KINDS and record.ours:
            return WATCH_DISABLE_JOB if record.job else WATCH_LOST_DISABLE
        if record.job_kind == JOB_ENABLE and record.job:
            return ENABLE_RUNNING
        if record.job_kind == JOB_ENABLE and record.job_started:
            return ENABLE_SENT
        return ENABLE_DUE
    if phase == "failed":
        return ENABLE_DUE if record.wanted == records.WANT_NORMAL else FAILED
    return {"normal": NORMAL, "admin": ADMIN}.get(phase, MAINTENANCE)


def lifecycle_of(record: HostRecord, exit_and_start: bool) -> Lifecycle:
    return Lifecycle(state=state_of(record), job=record.job, job_started=record.job_started,
                     fallback_done=record.fallback_done,
                     wants_vm_start=exit_and_start and bool(record.vms_saved
                                                            or record.vms_running))


def record_for(record: HostRecord, lifecycle: Lifecycle, now: datetime) -> HostRecord:
    """The host record after a step: phase and fields follow the state."""
    state = lifecycle.state
    phase = PHASE_OF[state]
    wanted = {"entering": records.WANT_MAINTENANCE, "failed": records.WANT_MAINTENANCE,
              "leaving": records.WANT_NORMAL}.get(phase)
    changes: dict[str, object] = {
        "state": state, "ours": state not in _NOT_OURS, "wanted": wanted,
        "job": lifecycle.job if state in _WITH_JOB else None,
        "job_started": lifecycle.job_started if state in UNDER_WAY else None,
        "fallback_done": lifecycle.fallback_done}
    if state not in UNDER_WAY:
        changes["job_kind"] = None
    if state in (ENABLE_SENT, ENABLE_RUNNING):  # in the same write as the state
        changes["job_kind"] = JOB_ENABLE
    if state in (NORMAL, ADMIN) and state_of(record) != state:  # a stay keeps its error
        changes.update(error=None, vms_running=None, vms_saved=None, saved_vm_names=(),
                       start_jobs=())
    if state not in (STARTING_VMS,):
        changes["start_jobs"] = ()
    return record.moved(phase, now, **changes)


def enable_batches(hosts: list[str], vmm_host: str | None) -> list[list[str]]:
    """Enable order: the VMM server's host alone and first (SCVMM itself lives there),
    then the rest together. Pure."""
    batches = [[host] for host in hosts if host == vmm_host]
    rest = [host for host in hosts if host != vmm_host]
    return batches + ([rest] if rest else [])


def vmm_host_may_disable(others: Mapping[str, str], vmm_host: str) -> bool:
    """The vmm_host is disabled only after every other host's Disable has ended (no
    other host due, sent or running towards maintenance). Pure."""
    pending = (DISABLE_DUE, DISABLE_SENT, DISABLE_RUNNING, FALLBACK_CHECK, FALLBACK_DUE,
               FALLBACK_SENT, FALLBACK_RUNNING)
    return not any(state in pending for host, state in others.items() if host != vmm_host)


def vmm_host_waits(host: str, vmm_host: str | None, states: Mapping[str, str],
                   about_to_disable: Iterable[str]) -> bool:
    """True when `host` is the vmm_host, a read would now disable it, and another host's
    Disable is still due, sent or running (`states`, plus the hosts a Disable is about to
    go out for in this round). Pure."""
    if host != vmm_host or TABLE[(states.get(host, NORMAL), SEEN_OUT)].action not in (
            DISABLE, DISABLE_SAVE):
        return False
    others = {**states, **dict.fromkeys(about_to_disable, DISABLE_DUE)}
    others[host] = states.get(host, NORMAL)
    return not vmm_host_may_disable(others, vmm_host)


def table_markdown() -> str:
    """The table as Markdown, for docs/handler.md (generated: it cannot drift)."""
    lines = ["| state | observation | next state | action | why |",
             "|---|---|---|---|---|"]
    for state in STATES:
        for observation in OBSERVATIONS:
            row = TABLE.get((state, observation))
            if row is None or (row.action == NOTHING and row.next_state == state \
                    and row.why.endswith("ignored")):
                continue
            lines.append(f"| {state} | {observation} | {row.next_state} | {row.action} | "
                         f"{row.why} |")
    return "\n".join(lines)


def mermaid() -> str:
    """The table as a Mermaid state diagram (every row that changes the state; the
    observations of one edge joined), for docs/handler.md."""
    edges: dict[tuple[str, str], list[str]] = {}
    for state in STATES:
        for observation in OBSERVATIONS:
            row = TABLE[(state, observation)]
            if row.next_state != state:
                label = observation if row.action == NOTHING else f"{observation} / {row.action}"
                edges.setdefault((state, row.next_state), []).append(label)
    lines = ["stateDiagram-v2", f"    [*] --> {NORMAL}"]
    lines += [f"    {source} --> {target}: {', '.join(labels)}"
              for (source, target), labels in edges.items()]
    # START_VMS leads here only with VMs of ours saved (exit-and-start): see step().
    lines.append(f"    {ENABLE_RUNNING} --> {STARTING_VMS}: job_succeeded / start_vms")
    return "\n".join(lines)


_DOC_PARTS = {"lifecycle-table": table_markdown, "lifecycle-diagram":
              lambda: f"```mermaid\n{mermaid()}\n```"}


def render_docs(text: str) -> str:
    """docs/handler.md with its generated parts (between <!-- NAME:begin --> and
    <!-- NAME:end -->) rewritten from the code. Pure."""
    for name, render in _DOC_PARTS.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(begin)
        if not found:
            raise ValueError(f"marker {begin} missing")
        _, found, tail = rest.partition(end)
        if not found:
            raise ValueError(f"marker {end} missing")
        text = f"{head}{begin}\n{render()}\n{end}{tail}"
    return text


if __name__ == "__main__":  # python -m check_dell_ups.maintenance.lifecycle docs/handler.md
    import sys
    from pathlib import Path

    doc = Path(sys.argv[1])
    doc.write_text(render_docs(doc.read_text()))
