"""The cmdlets the fake VMM understands, run like a locked-down (no-language) endpoint.

An invocation is a list of statements; a statement is a pipeline of commands whose
output flows into the next command. Script text, unknown cmdlets and unknown
parameters fail the invocation like PowerShell does; a cmdlet's own failures (unknown
host, locked host) are non-terminating error records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import ErrorCategory

from check_dell_ups.fake_scvmm import objects
from check_dell_ups.fake_scvmm.model import Host, Job, JobError, ModelError, Vm, VmmModel

SWITCH = object()  # marks a parameter that takes no value


@dataclass(frozen=True)
class CommandCall:
    """One command as it arrived: name, (name, value) parameters, script or not."""

    name: str
    parameters: Sequence[tuple[str | None, Any]]
    is_script: bool = False


@dataclass(frozen=True)
class ErrorSpec:
    message: str
    category: ErrorCategory
    error_id: str
    exception_type: str = "System.Exception"


class TerminatingError(Exception):
    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(spec.message)
        self.spec = spec


@dataclass
class ConnectionState:
    """What a real runspace remembers between invocations: the VMM connection."""

    connected_server: str | None = None


@dataclass
class InvocationResult:
    output: list[Any] = field(default_factory=list)
    errors: list[ErrorSpec] = field(default_factory=list)
    failure: ErrorSpec | None = None
    ready_at: float = 0.0  # a synchronous job holds the output until it ends
    started_job: bool = False


@dataclass
class _Context:
    model: VmmModel
    connection: ConnectionState
    result: InvocationResult
    variables: dict[str, Any]
    record: Callable[[str, dict[str, Any]], None]


# name -> {parameter name: takes a value (False = switch)}
_PARAMETERS: dict[str, dict[str, bool]] = {
    "Get-SCVMMServer": {"ComputerName": True, "TCPPort": True},
    "Get-SCVMHost": {"ComputerName": True, "VMMServer": True},
    "Get-SCVirtualMachine": {"VMHost": True, "Name": True, "ID": True, "VMMServer": True},
    "Disable-SCVMHost": {
        "VMHost": True,
        "MoveWithinCluster": False,
        "RunAsynchronously": False,
        "JobVariable": True,
    },
    "Enable-SCVMHost": {"VMHost": True, "RunAsynchronously": False, "JobVariable": True},
    "Start-SCVirtualMachine": {"VM": True, "RunAsynchronously": False, "JobVariable": True},
    "Get-SCJob": {"ID": True, "All": False},
    "Get-Variable": {"Name": True, "ValueOnly": False},
    "Select-Object": {"ExpandProperty": True},
}
# The WinRM endpoint is the VMM server itself, so these names reach it too.
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_NEEDS_CONNECTION = set(_PARAMETERS) - {"Get-SCVMMServer", "Get-Variable", "Select-Object"}
# A job with no error still has an ErrorInfo.
_NO_ERROR = JobError("NoError", 0, "", "")


def run_invocation(
    model: VmmModel,
    connection: ConnectionState,
    statements: Sequence[Sequence[CommandCall]],
    record: Callable[[str, dict[str, Any]], None],
) -> InvocationResult:
    """Run the statements in order; variables live for this invocation only."""
    result = InvocationResult()
    context = _Context(model, connection, result, {}, record)
    try:
        for statement in statements:
            _check_statement(statement)
            pipe_input: list[Any] | None = None
            for command in statement:
                pipe_input = _run_command(context, command, pipe_input)
            result.output.extend(_to_wire(model, item) for item in pipe_input or [])
    except TerminatingError as failure:
        result.failure = failure.spec
    return result


def _check_statement(statement: Sequence[CommandCall]) -> None:
    """Refuse the whole statement before anything runs, as parameter binding does."""
    for command in statement:
        if command.is_script:
            raise TerminatingError(
                ErrorSpec(
                    "The syntax is not supported by this runspace. This can occur if the "
                    "runspace is in no-language mode.",
                    ErrorCategory.ParserError,
                    "ScriptsNotAllowed",
                    "System.Management.Automation.ParseException",
                )
            )
        canonical = _canonical_cmdlet(command.name)
        if canonical is None:
            raise TerminatingError(
                ErrorSpec(
                    f"The term '{command.name}' is not recognized as the name of a cmdlet, "
                    "function, script file, or operable program.",
                    ErrorCategory.ObjectNotFound,
                    "CommandNotFoundException",
                    "System.Management.Automation.CommandNotFoundException",
                )
            )
        _bind(canonical, command.parameters)


def _canonical_cmdlet(name: str) -> str | None:
    return next((known for known in _PARAMETERS if known.lower() == name.lower()), None)


def _bind(cmdlet: str, parameters: Sequence[tuple[str | None, Any]]) -> dict[str, Any]:
    """Parameter name -> value (SWITCH for a switch), in the cmdlet's own spelling."""
    declared = _PARAMETERS[cmdlet]
    bound: dict[str, Any] = {}
    for name, value in parameters:
        canonical = next((p for p in declared if name and p.lower() == name.lower()), None)
        if canonical is None:
            shown = name if name is not None else repr(value)
            raise TerminatingError(
                ErrorSpec(
                    f"A parameter cannot be found that matches parameter name '{shown}'.",
                    ErrorCategory.InvalidArgument,
                    f"NamedParameterNotFound,{cmdlet}",
                    "System.Management.Automation.ParameterBindingException",
                )
            )
        if declared[canonical]:
            bound[canonical] = value
        elif value is None or value is True:
            bound[canonical] = SWITCH
        # a switch passed as False is simply off
    return bound


def _run_command(
    context: _Context, command: CommandCall, pipe_input: list[Any] | None
) -> list[Any]:
    cmdlet = _canonical_cmdlet(command.name)
    assert cmdlet is not None  # checked by _check_statement
    bound = _bind(cmdlet, command.parameters)
    context.record(cmdlet, {name: _recorded(value) for name, value in bound.items()})
    if cmdlet in _NEEDS_CONNECTION and context.connection.connected_server is None:
        context.result.errors.append(
            ErrorSpec(
                "No connection to a VMM management server exists in this runspace. "
                "Connect with Get-SCVMMServer first. (Error ID: 1604)",
                ErrorCategory.ConnectionError,
                f"CannotConnectToVMMServer,{cmdlet}",
            )
        )
        return []
    return _HANDLERS[cmdlet](context, bound, pipe_input)


def _recorded(value: Any) -> Any:
    if value is SWITCH:
        return True
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return _name_of(value)


def _name_of(value: Any) -> str:
    """A host or VM given as a name, a model object or a deserialized PSObject."""
    if isinstance(value, (Host, Vm)):
        return value.name
    if isinstance(value, str):
        return value
    for attribute in ("Name", "ComputerName"):
        found = getattr(value, attribute, None)
        if isinstance(found, str):
            return found
    return str(value)


def _error(context: _Context, cmdlet: str, problem: ModelError | str) -> None:
    context.result.errors.append(
        ErrorSpec(str(problem), ErrorCategory.InvalidOperation, f"VMMError,{cmdlet}")
    )


def _to_wire(model: VmmModel, item: Any) -> Any:
    if isinstance(item, Host):
        return objects.host_object(item)
    if isinstance(item, Vm):
        return objects.vm_object(item)
    if isinstance(item, Job):
        return objects.job_object(model, model.job(item.job_id))
    if isinstance(item, JobError):
        return objects.wire_object(objects.ERROR_INFO, item)
    return item


# ---- the cmdlets ---------------------------------------------------------------------------


def _get_vmm_server(context: _Context, bound: dict[str, Any], _: list[Any] | None) -> list[Any]:
    wanted = str(bound.get("ComputerName", "localhost"))
    server = context.model.vmm_server
    if wanted.lower() not in {server.lower(), server.split(".")[0].lower(), *_LOOPBACK}:
        _error(
            context,
            "Get-SCVMMServer",
            f"You cannot contact the VMM management server {wanted}. (Error ID: 1601)",
        )
        return []
    context.connection.connected_server = server
    return [objects.server_connection_object(server)]


def _get_vm_host(context: _Context, bound: dict[str, Any], _: list[Any] | None) -> list[Any]:
    if "ComputerName" not in bound:
        return context.model.all_hosts()
    try:
        return [context.model.host(str(bound["ComputerName"]))]
    except ModelError as problem:
        _error(context, "Get-SCVMHost", problem)
        return []


def _get_virtual_machine(
    context: _Context, bound: dict[str, Any], pipe_input: list[Any] | None
) -> list[Any]:
    host = _name_of(bound["VMHost"]) if "VMHost" in bound else None
    name = str(bound["Name"]) if "Name" in bound else None
    vm_id = str(bound["ID"]) if "ID" in bound else None
    if host is not None:
        try:
            host = context.model.host(host).name
        except ModelError as problem:
            _error(context, "Get-SCVirtualMachine", problem)
            return []
    # -Name may find several VMs (names are not unique); -ID exactly one, or an error.
    found = context.model.vms_on(host=host, name=name, vm_id=vm_id)
    if vm_id is not None and not found:
        _error(context, "Get-SCVirtualMachine",
               ModelError(f"Unable to find the virtual machine {vm_id}.", 801))
    return found


def _targets(bound: dict[str, Any], parameter: str, pipe_input: list[Any] | None,
             key: Callable[[Any], str] = _name_of) -> list[str]:
    if parameter in bound:
        return [key(bound[parameter])]
    return [key(item) for item in pipe_input or []]


def _vm_id_of(value: Any) -> str:
    return value.vm_id if isinstance(value, Vm) else _name_of(value)


def _job_cmdlet(
    context: _Context,
    *,
    cmdlet: str,
    bound: dict[str, Any],
    targets: list[str],
    start: Callable[[str], Job],
    output: Callable[[str], Any],
) -> list[Any]:
    results = []
    for target in targets:
        try:
            job = start(target)
        except ModelError as problem:
            _error(context, cmdlet, problem)
            continue
        context.result.started_job = True
        if "JobVariable" in bound:
            context.variables[str(bound["JobVariable"]).lower()] = job
        if "RunAsynchronously" not in bound:
            # Synchronous: the cmdlet returns when its job has ended.
            context.result.ready_at = max(context.result.ready_at, time.monotonic() + job.seconds)
        results.append(output(target))
    return results


def _disable_vm_host(
    context: _Context, bound: dict[str, Any], pipe_input: list[Any] | None
) -> list[Any]:
    move = "MoveWithinCluster" in bound
    return _job_cmdlet(
        context,
        cmdlet="Disable-SCVMHost",
        bound=bound,
        targets=_targets(bound, "VMHost", pipe_input),
        start=lambda host: context.model.disable_host(host, move),
        output=context.model.host,
    )


def _enable_vm_host(
    context: _Context, bound: dict[str, Any], pipe_input: list[Any] | None
) -> list[Any]:
    return _job_cmdlet(
        context,
        cmdlet="Enable-SCVMHost",
        bound=bound,
        targets=_targets(bound, "VMHost", pipe_input),
        start=context.model.enable_host,
        output=context.model.host,
    )


def _start_virtual_machine(
    context: _Context, bound: dict[str, Any], pipe_input: list[Any] | None
) -> list[Any]:
    def the_vm(vm_id: str) -> Any:
        return context.model.vms_on(vm_id=vm_id)[0]

    return _job_cmdlet(
        context,
        cmdlet="Start-SCVirtualMachine",
        bound=bound,
        targets=_targets(bound, "VM", pipe_input, _vm_id_of),
        start=context.model.start_vm,
        output=the_vm,
    )


def _get_job(context: _Context, bound: dict[str, Any], _: list[Any] | None) -> list[Any]:
    if "ID" not in bound:
        with context.model.lock:
            return [context.model.job(job_id) for job_id in list(context.model.jobs)]
    try:
        return [context.model.job(str(bound["ID"]))]
    except ModelError as problem:
        _error(context, "Get-SCJob", problem)
        return []


def _get_variable(context: _Context, bound: dict[str, Any], _: list[Any] | None) -> list[Any]:
    name = str(bound.get("Name", ""))
    if name.lower() not in context.variables:
        context.result.errors.append(
            ErrorSpec(
                f"Cannot find a variable with the name '{name}'.",
                ErrorCategory.ObjectNotFound,
                "VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand",
                "System.Management.Automation.ItemNotFoundException",
            )
        )
        return []
    return [context.variables[name.lower()]]


def _select_object(context: _Context, bound: dict[str, Any],
                   pipe_input: list[Any] | None) -> list[Any]:
    """Select-Object -ExpandProperty: the fake knows the one expansion the handler uses,
    a job's ErrorInfo (whole, where one level deep it is only its text)."""
    wanted = str(bound.get("ExpandProperty", ""))
    expanded = []
    for item in pipe_input or []:
        if isinstance(item, Job) and wanted.lower() == "errorinfo":
            expanded.append(context.model.job(item.job_id).error or _NO_ERROR)
        else:
            context.result.errors.append(ErrorSpec(
                f"Property \"{wanted}\" cannot be found.", ErrorCategory.InvalidArgument,
                "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand"))
    return expanded


_HANDLERS: dict[str, Callable[[_Context, dict[str, Any], list[Any] | None], list[Any]]] = {
    "Get-SCVMMServer": _get_vmm_server,
    "Get-SCVMHost": _get_vm_host,
    "Get-SCVirtualMachine": _get_virtual_machine,
    "Disable-SCVMHost": _disable_vm_host,
    "Enable-SCVMHost": _enable_vm_host,
    "Start-SCVirtualMachine": _start_virtual_machine,
    "Get-SCJob": _get_job,
    "Get-Variable": _get_variable,
    "Select-Object": _select_object,
}
