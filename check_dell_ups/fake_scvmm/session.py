"""One PSRP shell (a client's RunspacePool) on the fake endpoint, built on psrpcore.

psrpcore is a sans-IO state machine and not thread-safe, so every call into it holds the
shell's lock and one lock shared by all shells. Outgoing PSRP data is sorted into one
queue per target (the pool, or a pipeline) and each pipeline's output only becomes
available after the configured latency: a Receive waits for it *without* holding a
lock, so slow pipelines overlap.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psrpcore import ServerPipeline, ServerRunspacePool
from psrpcore._payload import PSRPPayload, StreamType
from psrpcore.types import (
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
)

from check_dell_ups.fake_scvmm import cmdlets
from check_dell_ups.fake_scvmm.model import VmmModel

# psrpcore is not thread-safe, and its serializer is shared by all shells: one lock for
# every call into it. (The interpreter lock serialises that CPU work anyway.) Order:
# a shell's condition first, then this, then the model's lock.
_PSRPCORE = threading.Lock()
_AVAILABILITY_EVENTS = {"SetMaxRunspacesEvent", "SetMinRunspacesEvent", "ResetRunspaceStateEvent"}


@dataclass
class _Outgoing:
    ready_at: float
    chunks: deque[bytes] = field(default_factory=deque)
    done: bool = False  # the pipeline has ended: its last chunk is queued
    drop_connection: bool = False  # fault: the first Receive after the job drops the link


class Shell:
    """A runspace pool of one client: its PSRP state, its VMM connection, its queues."""

    def __init__(
        self,
        shell_id: str,
        model: VmmModel,
        record: Callable[[str, dict[str, Any]], None],
        latency: Callable[[], float],
        drop_mid_job: Callable[[], bool],
    ) -> None:
        self.shell_id = shell_id
        self._model = model
        self._record = record
        self._latency = latency
        self._drop_mid_job = drop_mid_job
        self._pool = ServerRunspacePool()
        self._connection = cmdlets.ConnectionState()
        self._outgoing: dict[str | None, _Outgoing] = {None: _Outgoing(0.0)}
        self._changed = threading.Condition()

    # ---- input from the client ---------------------------------------------------------

    def receive_data(self, data: bytes, command_id: str | None = None) -> None:
        """Feed PSRP fragments (from Create, Command or Send) and run what they complete."""
        with self._changed, _PSRPCORE:
            if command_id is not None and command_id not in self._outgoing:
                # The pipeline object must exist before its CREATE_PIPELINE arrives.
                ServerPipeline(self._pool, uuid.UUID(command_id))
                self._outgoing[command_id] = _Outgoing(time.monotonic() + self._latency())
            pipeline_id = uuid.UUID(command_id) if command_id else None
            self._pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
            while True:
                event = self._pool.next_event()
                if event is None:
                    break
                self._handle(event)
            self._sort_outgoing()
            self._changed.notify_all()

    def _handle(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "CreatePipelineEvent":
            self._run_pipeline(event.pipeline_id)
        elif kind in _AVAILABILITY_EVENTS:
            self._pool.runspace_availability_response(event.ci, True)
        elif kind == "GetAvailableRunspacesEvent":
            self._pool.runspace_availability_response(event.ci, max(self._pool.max_runspaces, 1))

    def _run_pipeline(self, pipeline_id: uuid.UUID) -> None:
        pipeline: ServerPipeline = self._pool.pipeline_table[pipeline_id]
        statements: list[list[cmdlets.CommandCall]] = [[]]
        for command in pipeline.metadata.commands:
            statements[-1].append(
                cmdlets.CommandCall(
                    command.command_text, list(command.parameters), command.is_script
                )
            )
            if command.end_of_statement:
                statements.append([])
        result = cmdlets.run_invocation(
            self._model, self._connection, [s for s in statements if s], self._record
        )
        outgoing = self._outgoing[str(pipeline_id).upper()]
        outgoing.ready_at = max(outgoing.ready_at, result.ready_at)
        if result.started_job and self._drop_mid_job():
            outgoing.drop_connection = True

        pipeline.start()
        for item in result.output:
            pipeline.write_output(item)
        for error in result.errors:
            pipeline.write_error(*_error_parts(error))
        if result.failure is None:
            pipeline.complete()
        else:
            exception, category, _target, error_id = _error_parts(result.failure)
            record = ErrorRecord(
                Exception=exception, CategoryInfo=category, FullyQualifiedErrorId=error_id
            )
            pipeline._change_state(PSInvocationState.Failed, error=record)  # no public API
        outgoing.done = True

    def _sort_outgoing(self) -> None:
        while True:
            payload = self._pool.data_to_send()
            if payload is None:
                return
            key = str(payload.pipeline_id).upper() if payload.pipeline_id else None
            self._outgoing.setdefault(key, _Outgoing(0.0)).chunks.append(payload.data)

    # ---- output to the client ----------------------------------------------------------

    def take_output(self, command_id: str | None, wait: float) -> tuple[list[bytes], bool, bool]:
        """(chunks, pipeline done, drop the connection) once output is ready, or ([], ...)
        after `wait` seconds. Waits without holding psrpcore busy."""
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                outgoing = self._outgoing.get(command_id)
                now = time.monotonic()
                if outgoing is not None and outgoing.chunks and outgoing.ready_at <= now:
                    chunks = list(outgoing.chunks)
                    outgoing.chunks.clear()
                    drop, outgoing.drop_connection = outgoing.drop_connection, False
                    return chunks, outgoing.done, drop
                if now >= deadline:
                    return [], bool(outgoing and outgoing.done), False
                wake = deadline
                if outgoing is not None and outgoing.chunks:
                    wake = min(wake, outgoing.ready_at)
                self._changed.wait(max(0.001, wake - now))

    def close_pipeline(self, command_id: str) -> None:
        with self._changed, _PSRPCORE:
            self._outgoing.pop(command_id, None)
            self._pool.pipeline_table.pop(uuid.UUID(command_id), None)


def _error_parts(error: cmdlets.ErrorSpec) -> tuple[NETException, ErrorCategoryInfo, None, str]:
    exception = NETException(Message=error.message)
    exception.PSObject.type_names = [error.exception_type, "System.Exception", "System.Object"]
    category = ErrorCategoryInfo(
        Category=error.category,
        Reason=error.exception_type.rsplit(".", 1)[-1],
        TargetName="",
        TargetType="",
    )
    return exception, category, None, error.error_id
