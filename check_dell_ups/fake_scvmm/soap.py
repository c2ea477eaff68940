"""The WSMan (MS-WSMV) envelopes the fake endpoint reads and writes.

Only what a PSRP client uses: Create, Command, Send, Receive, Signal, Delete. Every
reply carries RelatesTo = the request's MessageID, which pypsrp checks.
"""

from __future__ import annotations

import base64
import random
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

_ACTION_BASE = {
    "Create": NS["wst"],
    "Delete": NS["wst"],
    "Command": NS["rsp"],
    "Receive": NS["rsp"],
    "Send": NS["rsp"],
    "Signal": NS["rsp"],
}
COMMAND_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
COMMAND_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"

# WSMan fault codes pypsrp knows by number.
OPERATION_TIMED_OUT = 2150858793  # "nothing yet": pypsrp polls again
INVALID_SELECTORS = 2150858843  # the shell is unknown (gone)
ACTION_NOT_SUPPORTED = 2150858754


def _tag(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


@dataclass
class Request:
    """A parsed WSMan request."""

    action: str  # Create, Command, ... (last part of the wsa:Action URI)
    message_id: str
    resource_uri: str
    shell_id: str | None
    body: ET.Element
    operation_timeout: float | None = None  # seconds, from wsman:OperationTimeout

    @classmethod
    def parse(cls, data: bytes) -> Request:
        envelope = ET.fromstring(data)
        header = envelope.find("s:Header", NS)
        body = envelope.find("s:Body", NS)
        if header is None or body is None:
            raise ValueError("not a SOAP envelope")
        action = (header.findtext("wsa:Action", "", NS) or "").rsplit("/", 1)[-1]
        shell_id = None
        for selector in header.findall("wsman:SelectorSet/wsman:Selector", NS):
            if selector.get("Name") == "ShellId":
                shell_id = (selector.text or "").upper()
        return cls(
            action=action,
            message_id=header.findtext("wsa:MessageID", "", NS) or "",
            resource_uri=header.findtext("wsman:ResourceURI", "", NS) or "",
            shell_id=shell_id,
            body=body,
            operation_timeout=_seconds(header.findtext("wsman:OperationTimeout", "", NS)),
        )

    # ---- body readers --------------------------------------------------------------------

    def creation_payload(self) -> bytes:
        text = self.body.findtext("rsp:Shell/pwsh:creationXml", "", NS)
        return base64.b64decode(text or "")

    def command(self) -> tuple[str, bytes]:
        """(command id, first PSRP fragment bytes) of a Command request."""
        line = self.body.find("rsp:CommandLine", NS)
        if line is None:
            raise ValueError("Command without CommandLine")
        command_id = (line.get("CommandId") or str(uuid.uuid4())).upper()
        data = b"".join(
            base64.b64decode(argument.text or "") for argument in line.findall("rsp:Arguments", NS)
        )
        return command_id, data

    def sent_data(self) -> tuple[str | None, bytes]:
        stream = self.body.find("rsp:Send/rsp:Stream", NS)
        if stream is None:
            raise ValueError("Send without Stream")
        command_id = stream.get("CommandId")
        return (command_id.upper() if command_id else None), base64.b64decode(stream.text or "")

    def receive_command_id(self) -> str | None:
        stream = self.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = stream.get("CommandId") if stream is not None else None
        return command_id.upper() if command_id else None

    def signal_command_id(self) -> str | None:
        signal = self.body.find("rsp:Signal", NS)
        command_id = signal.get("CommandId") if signal is not None else None
        return command_id.upper() if command_id else None


def _seconds(duration: str | None) -> float | None:
    """An xs:duration like PT20S or PT20.000S in seconds; None if absent or other."""
    match = re.fullmatch(r"PT(\d+(?:\.\d*)?)S", (duration or "").strip())
    return float(match.group(1)) if match else None


def _message_id() -> uuid.UUID:
    """A unique reply id without a system call: uuid4() reads os.urandom, and a syscall
    per reply is what a loaded machine makes slow. Uniqueness is all a MessageID needs."""
    return uuid.UUID(int=random.getrandbits(128), version=4)


def _envelope(request: Request, action_name: str) -> tuple[ET.Element, ET.Element]:
    envelope = ET.Element(_tag("s", "Envelope"))
    header = ET.SubElement(envelope, _tag("s", "Header"))
    base = _ACTION_BASE.get(request.action, NS["rsp"])
    ET.SubElement(header, _tag("wsa", "Action")).text = f"{base}/{action_name}"
    ET.SubElement(header, _tag("wsa", "MessageID")).text = f"uuid:{_message_id()}".upper()
    ET.SubElement(header, _tag("wsa", "RelatesTo")).text = request.message_id
    ET.SubElement(
        header, _tag("wsa", "To")
    ).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    body = ET.SubElement(envelope, _tag("s", "Body"))
    return envelope, body


def _bytes(envelope: ET.Element) -> bytes:
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=False)


def create_response(request: Request, shell_id: str, endpoint: str) -> bytes:
    envelope, body = _envelope(request, "CreateResponse")
    created = ET.SubElement(body, _tag("wst", "ResourceCreated"))
    ET.SubElement(created, _tag("wsa", "Address")).text = endpoint
    parameters = ET.SubElement(created, _tag("wsa", "ReferenceParameters"))
    ET.SubElement(parameters, _tag("wsman", "ResourceURI")).text = request.resource_uri
    selectors = ET.SubElement(parameters, _tag("wsman", "SelectorSet"))
    ET.SubElement(selectors, _tag("wsman", "Selector"), Name="ShellId").text = shell_id
    shell = ET.SubElement(body, _tag("rsp", "Shell"))
    ET.SubElement(shell, _tag("rsp", "ShellId")).text = shell_id
    ET.SubElement(shell, _tag("rsp", "ResourceUri")).text = request.resource_uri
    ET.SubElement(shell, _tag("rsp", "InputStreams")).text = "stdin pr"
    ET.SubElement(shell, _tag("rsp", "OutputStreams")).text = "stdout"
    return _bytes(envelope)


def command_response(request: Request, command_id: str) -> bytes:
    envelope, body = _envelope(request, "CommandResponse")
    response = ET.SubElement(body, _tag("rsp", "CommandResponse"))
    ET.SubElement(response, _tag("rsp", "CommandId")).text = command_id
    return _bytes(envelope)


def empty_response(request: Request, action_name: str, element: str | None = None) -> bytes:
    envelope, body = _envelope(request, action_name)
    if element:
        ET.SubElement(body, _tag("rsp", element))
    return _bytes(envelope)


def receive_response(
    request: Request, command_id: str | None, chunks: list[bytes], done: bool
) -> bytes:
    envelope, body = _envelope(request, "ReceiveResponse")
    response = ET.SubElement(body, _tag("rsp", "ReceiveResponse"))
    for chunk in chunks:
        stream = ET.SubElement(response, _tag("rsp", "Stream"), Name="stdout")
        if command_id:
            stream.set("CommandId", command_id)
        stream.text = base64.b64encode(chunk).decode()
    if command_id:
        state = ET.SubElement(
            response,
            _tag("rsp", "CommandState"),
            CommandId=command_id,
            State=COMMAND_DONE if done else COMMAND_RUNNING,
        )
        if done:
            ET.SubElement(state, _tag("rsp", "ExitCode")).text = "0"
    return _bytes(envelope)


def fault(request: Request | None, code: int, message: str) -> bytes:
    """A WSManFault (sent with HTTP 500), e.g. OPERATION_TIMED_OUT for 'nothing yet'."""
    envelope = ET.Element(_tag("s", "Envelope"))
    header = ET.SubElement(envelope, _tag("s", "Header"))
    ET.SubElement(
        header, _tag("wsa", "Action")
    ).text = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
    if request is not None:
        ET.SubElement(header, _tag("wsa", "RelatesTo")).text = request.message_id
    body = ET.SubElement(envelope, _tag("s", "Body"))
    soap_fault = ET.SubElement(body, _tag("s", "Fault"))
    code_element = ET.SubElement(soap_fault, _tag("s", "Code"))
    ET.SubElement(code_element, _tag("s", "Value")).text = "s:Receiver"
    reason = ET.SubElement(soap_fault, _tag("s", "Reason"))
    ET.SubElement(reason, _tag("s", "Text")).text = message
    detail = ET.SubElement(soap_fault, _tag("s", "Detail"))
    wsman_fault = ET.SubElement(
        detail, _tag("wsmanfault", "WSManFault"), Code=str(code), Machine="fake-vmm"
    )
    ET.SubElement(wsman_fault, _tag("wsmanfault", "Message")).text = message
    return _bytes(envelope)
