"""The real SCVMM driver: the ScvmmDriver Protocol on pypsrp (WSMan + RunspacePool).

Only cmdlet pipelines with typed parameters, never script text. Get-SCVMMServer runs
once per RunspacePool, right after it opens. Batch methods start one pipeline per item
(begin_invoke) and then collect them all (end_invoke), so the hosts of one UPS are
handled in parallel: N hosts cost about one host's round trip plus N small requests,
not N times a host.

Every failure leaves as a one-line ScvmmError without the password: a connection-wide
problem raises (ScvmmAuthError, ScvmmUnreachable); a cmdlet's own failure is reported
per item as ScvmmCommandError.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import requests
from pypsrp.exceptions import AuthenticationError, WinRMError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import NAMESPACES, WSMan, WSManAction

from check_dell_ups.maintenance import vmm_objects as vmm
from check_dell_ups.maintenance.driver import (
    HostInfo,
    JobInfo,
    ScvmmAuthError,
    ScvmmCommandError,
    ScvmmEndpoint,
    ScvmmError,
    ScvmmUnreachable,
    VmInfo,
)

# What VMM's objects hold (type names, properties, enums) is in vmm_objects, from the
# VMM module's own type metadata; this module reads only what is declared there.

# ---- how we talk to the server ---------------------------------------------------------

# The variable -JobVariable fills; read back by Get-Variable in the same invocation.
JOB_VARIABLE = "dellUpsJob"
# Runspaces the pool may use at once on the server; pipelines beyond that queue there.
MAX_RUNSPACES = 8
# Not confirmed: whether the connection Get-SCVMMServer makes serves every runspace of
# the pool or only the one it ran in. DESIGN.md: once per pool (False). True puts
# Get-SCVMMServer in front of every invocation, as its own statement, should a real VMM
# answer "no connection" to pipelines that land in another runspace.
CONNECT_IN_EVERY_INVOCATION = False
# pypsrp retries a Receive that timed out 5 times with 2+6+14+30+62 s of backoff by
# default; a handler with a time budget retries once, briefly.
RECEIVE_RETRIES = 1
RECONNECTION_BACKOFF = 0.5
# A VM list fetched ahead (see get_vms) is used only this soon after it was read.
VM_LIST_FRESH_SECONDS = 10.0
_MAX_MESSAGE = 240


def open_driver(endpoint: ScvmmEndpoint, deadline: float | None = None) -> PsrpScvmmDriver:
    """Open a session with the VMM server (runspace pool + Get-SCVMMServer).

    deadline (time.monotonic()): no request of this session runs past it, however
    slowly the server answers; a request due after it fails as ScvmmUnreachable."""
    return PsrpScvmmDriver(endpoint, deadline=deadline)


class _BoundedWSMan(WSMan):
    """WSMan whose Receive retries a read timeout RECEIVE_RETRIES times, not 5, and
    whose requests all end by the deadline.

    pypsrp's end_invoke polls a pipeline until it ends: a VMM cmdlet that hangs (Get-SCJob,
    Get-SCVMHost and Get-SCVMMServer are synchronous) would keep it polling forever, and
    the monitoring core would kill the handler without its summary or pending state."""

    deadline: float | None = None
    errors: _ErrorMapper | None = None

    def invoke(self, *args, retries_on_read_timeout=0, **kwargs):  # type: ignore[no-untyped-def]
        if self.deadline is None:
            return super().invoke(*args, retries_on_read_timeout=retries_on_read_timeout,
                                  **kwargs)
        retries_on_read_timeout = self._fit_to_deadline(retries_on_read_timeout)
        with self._whole_request_deadline():
            return super().invoke(*args, retries_on_read_timeout=retries_on_read_timeout,
                                  **kwargs)

    @contextmanager
    def _whole_request_deadline(self) -> Iterator[None]:
        """End the request at the deadline however the peer answers. The timeouts set by
        _fit_to_deadline bound each socket read only: a peer that trickles a byte every
        0.5 s never lets one expire. A real-time timer (SIGALRM) interrupts the request
        itself. Signals reach only the main thread, where the handler runs; elsewhere
        (tests calling from threads) the per-read bounds remain. An outer timer that is
        due sooner is kept and re-armed afterwards."""
        import signal
        import threading

        assert self.deadline is not None
        remaining = self.deadline - time.monotonic()
        if threading.current_thread() is not threading.main_thread() \
                or not hasattr(signal, "setitimer") or remaining <= 0:
            yield
            return
        where = self.errors.where if self.errors else "SCVMM"

        def expired(_signum: int, _frame: Any) -> None:
            raise ScvmmUnreachable(f"{where}: no answer within the handler's budget")

        started = time.monotonic()
        previous_handler = signal.signal(signal.SIGALRM, expired)
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, remaining)
        if 0 < outer_delay < remaining:  # someone else's alarm comes first: keep it
            signal.setitimer(signal.ITIMER_REAL, outer_delay, outer_interval)
            signal.signal(signal.SIGALRM, previous_handler)
            previous_handler = None
        try:
            yield
        finally:
            if previous_handler is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)
                if outer_delay > 0:
                    left = max(0.001, outer_delay - (time.monotonic() - started))
                    signal.setitimer(signal.ITIMER_REAL, left, outer_interval)

    def _fit_to_deadline(self, retries: int) -> int:
        """Shrink this request's timeouts to what is left; refuse it past the deadline."""
        base = getattr(self, "_base_timeouts", None)
        if base is None:
            base = self._base_timeouts = (self.operation_timeout,
                                          self.transport.connection_timeout,
                                          self.transport.read_timeout)
        operation, connection, read = base
        assert self.deadline is not None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            where = self.errors.where if self.errors else "SCVMM"
            raise ScvmmUnreachable(f"{where}: no answer within the handler's budget")
        # Each attempt's connect and read within part of what is left.
        read = min(read, max(remaining / 2, 1.5))
        connection = min(connection, max(remaining / 8, 0.5))
        self.transport.read_timeout = read
        self.transport.connection_timeout = connection
        # The server holds a Receive up to the operation timeout: answer before our read
        # timeout fires.
        self.operation_timeout = max(1, min(operation, int(read - 0.5)))
        # Retry a timed-out Receive only while a second attempt still fits.
        return retries if remaining >= 2 * (connection + read) + RECONNECTION_BACKOFF else 0

    def receive(self, resource_uri, resource, option_set=None, selector_set=None, timeout=None):  # type: ignore[no-untyped-def]
        response = self.invoke(
            WSManAction.RECEIVE,
            resource_uri,
            resource,
            option_set,
            selector_set,
            timeout,
            retries_on_read_timeout=RECEIVE_RETRIES,
        )
        return response.find("s:Body", namespaces=NAMESPACES)


def _settle_environment(wsman: WSMan) -> None:
    """Read proxy and CA-bundle settings from the environment once, not per request.

    pypsrp builds its requests session lazily, taking proxies (honouring no_proxy for
    our one endpoint) and REQUESTS_CA_BUNDLE from the environment; requests would then
    scan the whole environment again on every request, which costs about as much CPU as
    building the WSMan message. Build the session now and stop the per-request scan."""
    transport = getattr(wsman, "transport", None)
    build = getattr(transport, "_build_session", None)
    if transport is None or build is None or getattr(transport, "session", None) is not None:
        return
    transport.session = build()
    transport.session.trust_env = False


class _Connection:
    """One connection: a WSMan transport and a RunspacePool on which Get-SCVMMServer ran.
    pypsrp objects are not thread-safe: one thread at a time."""

    def __init__(self, endpoint: ScvmmEndpoint, errors: _ErrorMapper,
                 deadline: float | None = None) -> None:
        self._endpoint = endpoint
        self._errors = errors
        operation_timeout = max(1, round(endpoint.operation_timeout))
        use_basic_over_http = not endpoint.use_tls and endpoint.auth == "basic"
        self.pool: RunspacePool | None = None
        with errors.mapped():
            self.wsman = _BoundedWSMan(
                endpoint.server,
                port=endpoint.port,
                username=endpoint.username,
                password=endpoint.password,
                ssl=endpoint.use_tls,
                auth=endpoint.auth,
                cert_validation=endpoint.cert_validation,
                # Basic sends no message encryption: only over TLS or when so configured.
                encryption="never" if use_basic_over_http else "auto",
                operation_timeout=operation_timeout,
                connection_timeout=min(operation_timeout, 10),
                read_timeout=errors.read_timeout,
                reconnection_retries=1,
                reconnection_backoff=RECONNECTION_BACKOFF,
            )
        self.wsman.errors = errors
        self.wsman.deadline = deadline
        try:
            with errors.mapped():
                _settle_environment(self.wsman)
                self.pool = RunspacePool(self.wsman, max_runspaces=MAX_RUNSPACES)
                self.pool.open()
            self._connect_vmm()
        except BaseException:
            self.close()
            raise

    def _connect_vmm(self) -> None:
        """Get-SCVMMServer must run before any other VMM cmdlet in a runspace. WinRM lands
        on the VMM server itself, so it connects to localhost ([scvmm] vmm_server)."""
        server = self._endpoint.vmm_server
        outcome = self.run({server: self._add_connect}, connecting=True)[server]
        if isinstance(outcome, ScvmmError):
            raise ScvmmUnreachable(f"{self._errors.where}: Get-SCVMMServer failed: {outcome}")
        if not any(_is_a(item, vmm.SERVER_CONNECTION_TYPE) for item in outcome):
            raise ScvmmUnreachable(f"{self._errors.where}: Get-SCVMMServer -ComputerName "
                                   f"{server} returned no {vmm.SERVER_CONNECTION_TYPE}")

    def _add_connect(self, powershell: PowerShell) -> None:
        powershell.add_cmdlet("Get-SCVMMServer").add_parameter(
            "ComputerName", self._endpoint.vmm_server
        )

    def run(
        self,
        builders: Mapping[str, Callable[[PowerShell], Any]],
        accept: Callable[[list[Any]], bool] = lambda _output: False,
        connecting: bool = False,
    ) -> dict[str, list[Any] | ScvmmError]:
        """Start every pipeline, then collect each: key -> output, or the item's error.

        had_errors means the pipeline failed; non-terminating errors show only in
        streams.error. Both make the item an error, unless accept(output) says that
        output stands despite non-terminating errors (e.g. a job was started)."""
        with self._errors.mapped():
            running: dict[str, PowerShell] = {}
            for key, build in builders.items():
                powershell = PowerShell(self.pool)
                prefixed = CONNECT_IN_EVERY_INVOCATION and not connecting
                if prefixed:
                    self._add_connect(powershell)
                    powershell.add_statement()
                build(powershell)
                powershell.begin_invoke()
                running[key] = powershell
            results: dict[str, list[Any] | ScvmmError] = {}
            for key, powershell in running.items():
                output = powershell.end_invoke()
                if CONNECT_IN_EVERY_INVOCATION and not connecting:
                    output = [item for item in output
                              if not _is_a(item, vmm.SERVER_CONNECTION_TYPE)]
                records = list(powershell.streams.error)
                if not powershell.had_errors and (not records or accept(output)):
                    results[key] = output
                else:
                    results[key] = ScvmmCommandError(f"{key}: {_first_error(records)}")
            return results

    def close(self) -> None:
        try:
            if self.pool is not None:
                self.pool.close()
        except Exception:  # closing is best effort: the server drops idle shells itself
            pass
        self.pool = None
        self.wsman.close()


class PsrpScvmmDriver:
    """An open session with the VMM server. Use open_driver(); close() when done.

    One connection (WSMan + RunspacePool) carries every pipeline. A small pool of
    connections in threads was measured too and gained nothing: the time per pipeline
    is CPU on both ends, not waiting (docs/scvmm.md)."""

    def __init__(self, endpoint: ScvmmEndpoint, deadline: float | None = None) -> None:
        self._endpoint = endpoint
        self._errors = _ErrorMapper(endpoint, deadline)
        self._clock = time.monotonic
        self._vm_lists: dict[str, tuple[float, list[Any] | ScvmmError]] = {}
        self._vms_to_prefetch: list[str] = []
        self._connection: _Connection | None = _Connection(endpoint, self._errors, deadline)

    # ---- the ScvmmDriver Protocol ----------------------------------------------------------

    def get_hosts(self, names: Sequence[str]) -> dict[str, HostInfo | ScvmmError]:
        results = self._run_batch(
            {
                name: lambda ps, name=name: ps.add_cmdlet("Get-SCVMHost").add_parameter(
                    "ComputerName", name
                )
                for name in names
            }
        )
        self._vms_to_prefetch = [name for name in names if name not in self._vm_lists]
        return {
            name: _then(outcome, lambda out, name=name: _host_info(name, out))
            for name, outcome in results.items()
        }

    def get_vms(self, host: str) -> list[VmInfo]:
        """The VMs of a host. The first call after get_hosts() lists the VMs of all those
        hosts at once (one parallel batch): a reconciler asking host by host then waits
        for one round trip, not one per host. Each list is used once, while fresh."""
        cached = self._vm_lists.pop(host, None)
        if cached is not None and self._clock() - cached[0] <= VM_LIST_FRESH_SECONDS:
            outcome = cached[1]
        else:
            batch = [host] + [name for name in self._vms_to_prefetch if name != host]
            self._vms_to_prefetch = []
            results = self._run_batch(
                {
                    name: lambda ps, name=name: ps.add_cmdlet("Get-SCVirtualMachine").add_parameter(
                        "VMHost", name
                    )
                    for name in batch
                }
            )
            now = self._clock()
            for name, result in results.items():
                if name != host:
                    self._vm_lists[name] = (now, result)
            outcome = results[host]
        if isinstance(outcome, ScvmmError):
            raise outcome
        vms = [_vm_info(host, vm) for vm in outcome if _is_a(vm, vmm.VM_TYPE)]
        problem = next((vm for vm in vms if isinstance(vm, ScvmmError)), None)
        if problem is not None:
            raise problem
        return [vm for vm in vms if isinstance(vm, VmInfo)]

    def list_hosts(self) -> list[HostInfo]:
        """Every host VMM manages (Get-SCVMHost without -ComputerName): the readiness
        check's view of whole clusters, beyond the hosts the config names. Named by
        FullyQualifiedDomainName, else ComputerName (both strings on Host:
        docs/scvmm-objects/host-properties.txt)."""
        outcome = self._run_batch({"all": lambda ps: ps.add_cmdlet("Get-SCVMHost")})["all"]
        if isinstance(outcome, ScvmmError):
            raise outcome
        listed = []
        for host in (item for item in outcome if _is_a(item, vmm.HOST_TYPE)):
            name = (_text(_property(host, "FullyQualifiedDomainName"))
                    or _text(_property(host, "ComputerName")))
            info = _host_info(name, [host]) if name else None
            if isinstance(info, HostInfo):
                listed.append(info)
        return listed

    def _forget_vm_lists(self, hosts: Sequence[str] | None = None) -> None:
        """VM lists go stale when we act on their hosts (None: on any host)."""
        for host in list(self._vm_lists) if hosts is None else hosts:
            self._vm_lists.pop(host, None)

    def disable_hosts(self, move_within_cluster: Mapping[str, bool]) -> dict[str, str | ScvmmError]:
        def pipeline(host: str, move: bool) -> Callable[[PowerShell], Any]:
            def build(ps: PowerShell) -> None:
                ps.add_cmdlet("Get-SCVMHost").add_parameter("ComputerName", host)
                ps.add_cmdlet("Disable-SCVMHost")
                if move:
                    ps.add_parameter("MoveWithinCluster")
                _job_tail(ps)

            return build

        self._forget_vm_lists(list(move_within_cluster))
        return self._job_batch(
            {host: pipeline(host, move) for host, move in move_within_cluster.items()}
        )

    def enable_hosts(self, names: Sequence[str]) -> dict[str, str | ScvmmError]:
        def pipeline(host: str) -> Callable[[PowerShell], Any]:
            def build(ps: PowerShell) -> None:
                ps.add_cmdlet("Get-SCVMHost").add_parameter("ComputerName", host)
                ps.add_cmdlet("Enable-SCVMHost")
                _job_tail(ps)

            return build

        self._forget_vm_lists(names)
        return self._job_batch({host: pipeline(host) for host in names})

    def start_vms(self, vm_ids: Sequence[str]) -> dict[str, str | ScvmmError]:
        def pipeline(vm_id: str) -> Callable[[PowerShell], Any]:
            def build(ps: PowerShell) -> None:
                # By ID: names are not unique, and -ID finds exactly one VM.
                ps.add_cmdlet("Get-SCVirtualMachine").add_parameter("ID", vm_id)
                ps.add_cmdlet("Start-SCVirtualMachine")
                _job_tail(ps)

            return build

        self._forget_vm_lists()
        return self._job_batch({vm_id: pipeline(vm_id) for vm_id in vm_ids})

    def get_jobs(self, job_ids: Sequence[str]) -> dict[str, JobInfo | ScvmmError]:
        results = self._run_batch(
            {
                job_id: lambda ps, job_id=job_id: ps.add_cmdlet("Get-SCJob").add_parameter(
                    "ID", job_id
                )
                for job_id in job_ids
            }
        )
        infos = {
            job_id: _then(outcome, lambda out, job_id=job_id: _job_info(job_id, out))
            for job_id, outcome in results.items()
        }
        failed = [job_id for job_id, info in infos.items()
                  if isinstance(info, JobInfo) and not info.succeeded and info.finished]
        if failed:
            reasons = self._run_batch({
                job_id: lambda ps, job_id=job_id: ps.add_cmdlet("Get-SCJob").add_parameter(
                    "ID", job_id).add_cmdlet("Select-Object").add_parameter(
                    "ExpandProperty", "ErrorInfo")
                for job_id in failed
            })
            for job_id, reason in reasons.items():
                problem = _problem(reason)
                info = infos[job_id]
                if problem and isinstance(info, JobInfo):
                    infos[job_id] = replace(info, error=problem)
        return infos

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> PsrpScvmmDriver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- running pipelines -------------------------------------------------------------------

    def _job_batch(
        self, builders: Mapping[str, Callable[[PowerShell], Any]]
    ) -> dict[str, str | ScvmmError]:
        results = self._run_batch(builders, accept=lambda output: any(map(_is_job, output)))
        return {
            key: _then(outcome, lambda out, key=key: _job_id(key, out))
            for key, outcome in results.items()
        }

    def _run_batch(
        self,
        builders: Mapping[str, Callable[[PowerShell], Any]],
        accept: Callable[[list[Any]], bool] = lambda _output: False,
    ) -> dict[str, list[Any] | ScvmmError]:
        if self._connection is None:
            raise ScvmmUnreachable(f"{self._errors.where}: the session is closed")
        return self._connection.run(builders, accept)


class _ErrorMapper:
    """Turns pypsrp/requests exceptions into one-line ScvmmErrors without the password."""

    def __init__(self, endpoint: ScvmmEndpoint, deadline: float | None = None) -> None:
        self._endpoint = endpoint
        self._deadline = deadline
        self.where = f"SCVMM {endpoint.server}:{endpoint.port}"
        # The server may hold a Receive for the operation timeout before it answers.
        self.read_timeout = max(1, round(endpoint.operation_timeout)) + 5

    @contextmanager
    def mapped(self) -> Iterator[None]:
        where = self.where
        try:
            yield
        except ScvmmError:
            raise
        except AuthenticationError:
            raise ScvmmAuthError(
                f"{where} rejected the credentials of {self._endpoint.username} "
                f"({self._endpoint.auth})"
            ) from None
        except requests.exceptions.SSLError as problem:
            raise ScvmmUnreachable(f"{where}: TLS failure: {_tls_reason(problem)}") from None
        except requests.exceptions.Timeout:
            if self._deadline is not None and time.monotonic() >= self._deadline - 1:
                raise ScvmmUnreachable(
                    f"{where}: no answer within the handler's budget") from None
            raise ScvmmUnreachable(f"{where}: no answer within {self.read_timeout} s") from None
        except requests.exceptions.ConnectionError as problem:
            raise ScvmmUnreachable(
                f"{where}: cannot connect: {_connection_reason(problem)}"
            ) from None
        except WSManFaultError as problem:
            if problem.code == 5:  # access denied: not allowed to use WinRM there
                raise ScvmmAuthError(
                    f"{where}: access denied for {self._endpoint.username}"
                ) from None
            raise ScvmmUnreachable(f"{where}: WinRM fault: {self._clean(problem)}") from None
        except (WinRMError, OSError, ValueError) as problem:
            raise ScvmmUnreachable(f"{where}: {self._clean(problem)}") from None
        except Exception as problem:  # e.g. a Kerberos library error: still one line
            raise ScvmmUnreachable(
                f"{where}: {type(problem).__name__}: {self._clean(problem)}"
            ) from None

    def _clean(self, problem: BaseException) -> str:
        text = _one_line(str(problem))
        if self._endpoint.password:
            text = text.replace(self._endpoint.password, "***")
        return text


# ---- reading deserialized objects --------------------------------------------------------

_MISSING = object()


def _property(obj: Any, name: str) -> Any:
    """A property of a deserialized object, adapted or extended, any case; _MISSING if none."""
    wanted = name.lower()
    for table_name in ("adapted_properties", "extended_properties"):
        table = getattr(obj, table_name, None)
        if isinstance(table, dict):
            for key, value in table.items():
                if str(key).lower() == wanted:
                    return value
    if isinstance(obj, dict):
        for key, value in obj.items():
            if str(key).lower() == wanted:
                return value
    return _MISSING


def _text(value: Any) -> str | None:
    """Strings as they are; enums and nested objects (depth 1) as their ToString()."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    shown = getattr(value, "to_string", None)
    if isinstance(shown, str):
        return shown
    return str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) if value is not _MISSING else False


def _is_a(obj: Any, type_name: str) -> bool:
    """Whether a deserialized object is of that VMM type (its type names list it; an
    object that was deserialized once before carries them as Deserialized.<type>)."""
    names = getattr(obj, "types", None) or ()
    return type_name in names or f"Deserialized.{type_name}" in names


def _member(obj: Any, reads: vmm.Reads, name: str, what: str) -> str | ScvmmError:
    """The member name of one of an object's enum properties, or a one-line error."""
    enum = reads.properties[name]
    assert enum is not None
    value = _property(obj, name)
    if value is _MISSING:
        return ScvmmCommandError(f"{what}: the {reads.type_name.rsplit('.', 1)[-1]} object has "
                                 f"no {name} property")
    # An enum arrives as its ToString, its Int32, or an object holding them (pypsrp: a
    # GenericComplexObject with to_string and the Int32 in property_sets).
    numbers = getattr(value, "property_sets", None) or [None]
    for candidate in (value, getattr(value, "to_string", None), getattr(value, "value", None),
                      numbers[0]):
        member = enum.member_name(candidate)
        if member is not None:
            return member
    return ScvmmCommandError(f"{what}: {name} {_text(value)!r} is not a member of "
                             f"{enum.type_name}")


def _host_info(name: str, output: list[Any]) -> HostInfo | ScvmmError:
    hosts = [item for item in output if _is_a(item, vmm.HOST_TYPE)]
    if not hosts:
        return ScvmmCommandError(f"{name}: no such host in SCVMM")
    host = next((item for item in hosts if _names_host(item, name)), hosts[0])
    overall = _member(host, vmm.HOST_READS, "OverallState", name)
    if isinstance(overall, ScvmmError):
        return overall
    communication = _member(host, vmm.HOST_READS, "CommunicationState", name)
    if isinstance(communication, ScvmmError):
        return communication
    cluster = _text(_property(host, "HostCluster"))
    return HostInfo(
        name=name,
        in_maintenance=overall == vmm.MAINTENANCE_MODE,
        cluster=cluster or None,
        overall_state=overall,
        communication_state=communication,
    )


def _vm_info(host: str, vm: Any) -> VmInfo | ScvmmError:
    vm_id = _text(_property(vm, "ID"))
    name = _text(_property(vm, "Name")) or ""
    if not vm_id:
        return ScvmmCommandError(f"{host}: VM {name or '?'} has no ID property")
    state = _member(vm, vmm.VM_READS, "VirtualMachineState", f"{host}: VM {name}")
    if isinstance(state, ScvmmError):
        return state
    return VmInfo(vm_id=vm_id, name=name, state=state,
                  highly_available=_flag(_property(vm, "IsHighlyAvailable")))


def _names_host(obj: Any, name: str) -> bool:
    """Whether a Host object is the one asked for (by FQDN or short name)."""
    wanted = name.lower()
    known = {
        str(_text(_property(obj, field)) or "").lower()
        for field in ("Name", "ComputerName", "FullyQualifiedDomainName")
    }
    return wanted in known or wanted.split(".")[0] in known


def _is_job(obj: Any) -> bool:
    # A VM has an ID and a Status too: a job is known by its type.
    return _is_a(obj, vmm.TASK_TYPE)


def _job_id(key: str, output: list[Any]) -> str | ScvmmError:
    jobs = [item for item in output if _is_job(item)]
    if not jobs:
        return ScvmmCommandError(f"{key}: no job was started")
    job_id = _text(_property(jobs[-1], "ID"))
    if not job_id:
        return ScvmmCommandError(f"{key}: the job object has no ID property")
    return job_id


def _job_info(job_id: str, output: list[Any]) -> JobInfo | ScvmmError:
    jobs = [item for item in output if _is_job(item)]
    if not jobs:
        return ScvmmCommandError(f"job {job_id}: not found")
    job = jobs[-1]
    status = _member(job, vmm.TASK_READS, "Status", f"job {job_id}")
    if isinstance(status, ScvmmError):
        return status
    failed = status in vmm.JOB_FAILED
    error = None
    if failed:
        # One level deep ErrorInfo is only "CodeName (NNNN)": get_jobs asks for the whole
        # object; this is what stands if that fails.
        error = _one_line(_text(_property(job, "ErrorInfo")) or "") or status
    return JobInfo(
        job_id=job_id,
        status=status,
        finished=failed or status in vmm.JOB_SUCCEEDED,
        succeeded=status in vmm.JOB_SUCCEEDED,
        error=error,
    )


def _problem(outcome: list[Any] | ScvmmError) -> str | None:
    """The Problem of an expanded ErrorInfo (Get-SCJob | Select -ExpandProperty ErrorInfo)."""
    if isinstance(outcome, ScvmmError) or not outcome:
        return None
    problem = _property(outcome[0], vmm.ERROR_INFO_PROBLEM)
    text = _text(problem if problem is not _MISSING else outcome[0])
    return _one_line(text) if text else None


def _job_tail(ps: PowerShell) -> None:
    """... -RunAsynchronously -JobVariable v; Get-Variable -Name v -ValueOnly (same invocation:
    a later invocation may run in another runspace that has no such variable)."""
    ps.add_parameter("RunAsynchronously")
    ps.add_parameter("JobVariable", JOB_VARIABLE)
    ps.add_statement()
    ps.add_cmdlet("Get-Variable").add_parameter("Name", JOB_VARIABLE).add_parameter("ValueOnly")


def _first_error(records: Sequence[Any]) -> str:
    """The first error worth showing: the VMM cmdlet's own, not the Get-Variable that
    found no job variable because of it."""
    if not records:
        return "the pipeline failed"
    own = [r for r in records if not str(getattr(r, "fq_error", "")).startswith("VariableNotFound")]
    if not own:
        return "no job was started"
    return _one_line(str(own[0]))


def _then(outcome: list[Any] | ScvmmError, convert: Callable[[list[Any]], Any]) -> Any:
    return outcome if isinstance(outcome, ScvmmError) else convert(outcome)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def _tls_reason(problem: BaseException) -> str:
    text = str(problem)
    match = re.search(r"certificate verify failed: [^'\")(]+|\[SSL: [A-Z_0-9]+\] [^'\")(]+", text)
    return _one_line(match.group(0)) if match else "the TLS handshake failed"


def _connection_reason(problem: BaseException) -> str:
    text = str(problem)
    if "refused" in text.lower():
        return "connection refused"
    if "RemoteDisconnected" in text or "aborted" in text.lower():
        return "the server closed the connection"
    match = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    return _one_line(match.group(1)) if match else _one_line(type(problem).__name__)
