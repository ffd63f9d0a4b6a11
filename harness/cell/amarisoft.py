"""AmarisoftCell: a lab's Amarisoft Callbox as a TestCell, through its remote API (JSON over
WebSocket, one connection per component: the MME, and the IMS server for SMS).

From Amarisoft's public LTEMME and LTEIMS documentation ("Remote API" chapters), used as it says:
- startup: the server's first message is `ready`, or `authenticate` with a `challenge`; the
  client answers `res = HMAC-SHA256("<type>:<password>:<name>", "<challenge>")`; an Origin
  header is mandatory; every request may carry a `message_id` its response repeats; a failed
  request's response has an `error` string.
- MME: `ue_get` (`ue_list` entries with `imsi`, `imeisv`, `m_tmsi`, `tac`, `registered`),
  `ue_add` (a `ue_db` entry), `config_set` (`authentication_mode` auto/skip, where skip means
  no NAS authentication and EIA0/EEA0; `skip_smc_proc`; `force_identity_request`), `register`
  for the `registration` and `registration_reject` events, `log_get` (bounded by `max`,
  `max_size`, `timeout`, `allow_empty`).
- IMS: `sms` (`impu`, `sender`, `text` or `binary_hex` with `tp_udhi_present` and `tp_udl`,
  `pid`, `dcs`) and `users_get` (each user's count of pending SMS).

Assumed, not in the documentation: that the device's IMPU in the IMS `ue_db` is its bare IMSI
(as in Amarisoft's sample ue_db files), and that an SMS has been delivered once the IMS no
longer counts it as pending (the API reports no delivery report). The network's identity (PLMN,
TAC) lives in the eNB/MME configuration files; the API cannot change it, so `configure()` with
another identity raises CellUnsupported, as does a request the MME cannot honour (an IMEI
request, a chosen set of ciphers). Not run against a Callbox here: the tests replay recorded
exchanges through a stand-in server (tests/support/amarisoft_standin.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from harness.capabilities.cell import TestCell
from harness.cell.model import (
    Attachment,
    CellEvent,
    CellSecurity,
    MtSms,
    NetworkIdentity,
    SmsDelivery,
    Subscriber,
)
from harness.errors import HarnessSetupError
from harness.util.deadlines import Deadline, wait_until
from harness.util.text import bounded, one_line

TIMEOUT_S = 10.0
MESSAGE_LIMIT = 1024 * 1024  # one API message (websockets refuses a longer frame or message)
TRANSCRIPT_LIMIT = 2000  # messages kept per component for the evidence
EVENT_LIMIT = 10000
POLL_S = 1.0
EVENTS = ("registration", "registration_reject")


class CellUnsupported(HarnessSetupError):
    """The cell cannot do what a test asks (the test is INCONCLUSIVE with the reason)."""


class JsonChannel(Protocol):
    def send(self, text: str) -> None: ...

    def recv(self, timeout: float) -> str: ...

    def close(self) -> None: ...


class WebSocketChannel:
    """One WebSocket connection (the `websockets` library, extra `cell-amarisoft`), imported
    only when an Amarisoft cell is configured; reads are bounded in size and in time."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        try:
            from websockets.exceptions import WebSocketException
            from websockets.sync.client import connect
        except ImportError as err:
            raise HarnessSetupError(
                "the Amarisoft backend needs the websockets library (pip install 'hilsec[cell-amarisoft]')"
            ) from err
        self.url = url
        self._errors = (OSError, WebSocketException, TimeoutError)
        try:
            self._socket = connect(
                url, origin="http://hilsec", open_timeout=timeout, close_timeout=1,
                max_size=MESSAGE_LIMIT, proxy=None, ping_interval=None, legacy=True,
            )  # fmt: skip
        except (*self._errors, ValueError) as err:
            raise HarnessSetupError(
                f"Amarisoft remote API {url} is not reachable: {one_line(str(err))}"
            ) from err

    def send(self, text: str) -> None:
        try:
            self._socket.send(text)
        except self._errors as err:
            raise HarnessSetupError(f"Amarisoft remote API {self.url}: {one_line(str(err))}") from err

    def recv(self, timeout: float) -> str:
        try:
            message = self._socket.recv(timeout=timeout)
        except TimeoutError as err:
            raise HarnessSetupError(
                f"Amarisoft remote API {self.url}: nothing within {timeout:.0f} s"
            ) from err
        except self._errors as err:  # a message over MESSAGE_LIMIT closes the connection (1009)
            raise HarnessSetupError(f"Amarisoft remote API {self.url}: {one_line(str(err))}") from err
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            self._socket.close()
        except self._errors:
            pass


class RemoteApi:
    """One component's session: the greeting (ready, or authenticate with the password), then
    request/response matched by message_id; events that arrive in between are kept."""

    def __init__(
        self, channel: JsonChannel, password: str | None, name: str, timeout: float = TIMEOUT_S
    ) -> None:
        self.channel = channel
        self.name = name
        self.timeout = timeout
        self.transcript: deque[dict[str, Any]] = deque(maxlen=TRANSCRIPT_LIMIT)
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENT_LIMIT)
        self._next = 0
        greeting = self._receive(timeout)
        if greeting.get("message") == "authenticate":
            if not password:
                raise HarnessSetupError(
                    f"Amarisoft {name} asks for a password (lab config: cell.amarisoft.password)"
                )
            key = f"{greeting.get('type', '')}:{password}:{greeting.get('name', '')}"
            proof = hmac.new(
                key.encode(), str(greeting.get("challenge", "")).encode(), hashlib.sha256
            ).hexdigest()
            answer = self.request({"message": "authenticate", "res": proof})
            if answer.get("ready") is not True:
                raise HarnessSetupError(
                    f"Amarisoft {name} refused the password: {answer.get('error', 'not ready')}"
                )
        elif greeting.get("message") != "ready":
            raise HarnessSetupError(f"Amarisoft {name} greeted with {greeting.get('message')!r}, not ready")
        self.component = one_line(str(greeting.get("type", name)))
        self.version = one_line(str(greeting.get("version", "")))

    def _receive(self, timeout: float) -> dict[str, Any]:
        text = self.channel.recv(timeout)
        if len(text) > MESSAGE_LIMIT:
            raise HarnessSetupError(
                f"Amarisoft {self.name} sent a {len(text)}-character message; limit {MESSAGE_LIMIT}"
            )
        try:
            message = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise HarnessSetupError(f"Amarisoft {self.name} sent something that is not JSON: {err}") from err
        if not isinstance(message, dict):
            raise HarnessSetupError(
                f"Amarisoft {self.name} sent a JSON {type(message).__name__}, not an object"
            )
        self.transcript.append({"in": message})
        return message

    def request(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """The response to `message`; HarnessSetupError when none comes within the timeout."""
        timeout = self.timeout if timeout is None else timeout
        self._next += 1
        ident = f"hilsec-{self._next}"
        sent = {**message, "message_id": ident}
        self.transcript.append({"out": {k: ("<redacted>" if k == "res" else v) for k, v in sent.items()}})
        self.channel.send(json.dumps(sent))
        deadline = Deadline.after(timeout)
        while True:
            remaining = deadline.remaining()  # read once: 0 would mean "do not wait at all"
            if remaining <= 0:
                raise HarnessSetupError(
                    f"Amarisoft {self.name}: no answer to {message['message']} in {timeout:.0f} s"
                )
            answer = self._receive(remaining)
            if answer.get("message_id") == ident:
                return answer
            if answer.get("message") in EVENTS and "message_id" not in answer:
                self.events.append({**answer, "received": time.time()})

    def call(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """request(), with an `error` response raised as HarnessSetupError naming it."""
        answer = self.request(message, timeout)
        if answer.get("error"):
            raise HarnessSetupError(
                f"Amarisoft {self.name} refused {message['message']}: {bounded(one_line(str(answer['error'])), 300)}"
            )
        return answer


def _ims_payload(sms: MtSms) -> dict[str, Any]:
    """The IMS `sms` fields for one message: text for plain 7-bit, else TP-User-Data as hex."""
    gsm7 = sms.dcs & 0xC0 == 0x00 and sms.dcs & 0x0C == 0x00 or sms.dcs & 0xF4 == 0xF0
    if gsm7 and not sms.udh:
        return {"text": sms.user_data.decode("utf-8", "replace")}
    if gsm7:  # septets after the header, aligned to a septet boundary (23.040 9.2.3.24)
        from pycrate_mobile.TS23038 import encode_7b

        header_septets = math.ceil(len(sms.udh) * 8 / 7)
        packed, septets = encode_7b(
            sms.user_data.decode("utf-8", "replace"), off=(7 - len(sms.udh) * 8 % 7) % 7
        )
        return {
            "binary_hex": (sms.udh + packed).hex(),
            "tp_udhi_present": True,
            "tp_udl": header_septets + septets,
        }
    return {"binary_hex": (sms.udh + sms.user_data).hex(), "tp_udhi_present": bool(sms.udh)}


class AmarisoftCell(TestCell):
    """An Amarisoft Callbox (LTE/NR) driven over its remote API."""

    def __init__(self, settings: Any, *, network: NetworkIdentity | None = None,
                 connect: Callable[[str, float], JsonChannel] = WebSocketChannel) -> None:  # fmt: skip
        self.settings = settings
        self.timeout = float(getattr(settings, "timeout_s", TIMEOUT_S))
        self._network = network or NetworkIdentity()
        self._security = CellSecurity()
        self.connect = connect
        self.mme: RemoteApi | None = None
        self.ims: RemoteApi | None = None
        self._notes: list[CellEvent] = []
        self.description = f"Amarisoft Callbox (remote API {settings.url})"
        self.radio = "callbox (Amarisoft, LTE/NR over RF)"

    @property
    def network(self) -> NetworkIdentity:
        return self._network

    @property
    def security(self) -> CellSecurity:
        return self._security

    def _api(self, which: str) -> RemoteApi:
        api = self.mme if which == "mme" else self.ims
        if api is None:
            if which == "ims":
                raise CellUnsupported(
                    "SMS goes through the Callbox's IMS server: set lab config cell.amarisoft.ims_url"
                )
            raise HarnessSetupError(f"{self.description} is not started")
        return api

    def start(self) -> None:
        self.mme = RemoteApi(
            self.connect(self.settings.url, self.timeout), self.settings.password, "MME", self.timeout
        )
        self.mme.call({"message": "register", "register": list(EVENTS)})
        if self.settings.ims_url:
            ims = self.connect(self.settings.ims_url, self.timeout)
            self.ims = RemoteApi(ims, self.settings.password, "IMS", self.timeout)
        self._note("cell up", f"MME {self.mme.version}" + (f", IMS {self.ims.version}" if self.ims else ""))

    def stop(self) -> None:
        for api in (self.mme, self.ims):
            if api is not None:
                api.channel.close()

    def identity(self) -> dict[str, str]:
        version = self.mme.version if self.mme else ""
        return {"cell": self.description, "cell_radio": self.radio, "cell_software": version}

    def configure(
        self, *, network: NetworkIdentity | None = None, security: CellSecurity | None = None
    ) -> None:
        if network is not None and network != self._network:
            raise CellUnsupported(
                "the Amarisoft remote API cannot change the network's identity (PLMN, TAC): set it in the "
                "Callbox's eNB/MME configuration files"
            )
        wanted = security or self._security
        if "imei" in wanted.identity_requests:
            raise CellUnsupported(
                "the Amarisoft remote API has no request that makes the MME ask for the IMEI"
            )
        if wanted.ciphering and set(wanted.ciphers) != set(self._security.ciphers):
            raise CellUnsupported(
                "the Amarisoft remote API cannot choose the ciphers offered (the MME configuration's algorithm "
                "preferences); it can only switch ciphering off"
            )
        self._api("mme").call({
            "message": "config_set",
            "authentication_mode": "auto" if wanted.authentication else "skip",
            "skip_smc_proc": not wanted.ciphering,
            "force_identity_request": "imsi" in wanted.identity_requests,
        })  # fmt: skip
        self._security = wanted
        self._note("cell reconfigured", wanted.describe())

    def add_subscriber(self, subscriber: Subscriber) -> None:
        if subscriber.algorithm != "xor":  # the MME's ue_db knows xor, milenage (needs OPc) and tuak only
            self._note("subscriber expected", f"{subscriber.algorithm} SIM: must be in the Callbox's ue_db",
                       f"IMSI {subscriber.imsi}")  # fmt: skip
            return
        entry = {
            "sim_algo": "xor",
            "imsi": subscriber.imsi,
            "K": subscriber.ki,
            "amf": 0x9001,
            "sqn": "000000000000",
        }
        self._api("mme").call({"message": "ue_add", "ue_db": [entry]})
        self._note("subscriber added", "ue_add", f"IMSI {subscriber.imsi}")

    def _ues(self, imsi: str) -> list[dict[str, Any]]:
        ues = self._api("mme").call({"message": "ue_get", "imsi": imsi}).get("ue_list", [])
        return [ue for ue in ues if isinstance(ue, dict)] if isinstance(ues, list) else []

    def wait_attached(self, imsi: str, timeout: float) -> Attachment:
        started = time.monotonic()

        def registered() -> str:
            """The registration's detail, "" while the MME does not have the UE registered."""
            for ue in self._ues(imsi):
                if str(ue.get("imsi")) == imsi and ue.get("registered") is True:
                    return f"registered at the MME (ue_get), TAC {one_line(str(ue.get('tac', '?')))}"
            return ""

        detail = wait_until(registered, timeout, POLL_S)
        if detail:
            return Attachment(imsi, True, time.monotonic() - started, detail)
        return Attachment(imsi, False, time.monotonic() - started, f"not registered within {timeout:.0f} s")

    def _pending(self, imsi: str) -> int | None:
        users = self._api("ims").call({"message": "users_get"}).get("users", [])
        for user in users if isinstance(users, list) else []:
            if not isinstance(user, dict):
                continue
            impus = [
                i for b in user.get("bindings", []) if isinstance(b, dict) for i in b.get("impu", []) or []
            ]
            if str(user.get("impi", "")).startswith(imsi) or any(imsi in str(i) for i in impus):
                pending = user.get("sms", 0)
                return pending if isinstance(pending, int) else None
        return None

    def send_sms(self, imsi: str, sms: MtSms, timeout: float) -> SmsDelivery:
        ims = self._api("ims")
        request = {"message": "sms", "impu": imsi, "sender": sms.originator, "pid": sms.pid, "dcs": sms.dcs,
                   **_ims_payload(sms)}  # fmt: skip
        started = time.monotonic()
        deadline = Deadline.after(timeout)  # the request and the wait for delivery share it
        answer = ims.request(request, timeout)
        label = sms.label or "SMS"
        if answer.get("error"):
            error = bounded(one_line(str(answer["error"])), 300)
            self._note("sms failed", f"{label}: {error}", f"IMSI {imsi}")
            return SmsDelivery("failed", time.monotonic() - started, f"Amarisoft IMS: {error}")
        if wait_until(lambda: self._pending(imsi) == 0, deadline.remaining(), POLL_S):
            self._note("sms delivered", f"{label}: no longer pending at the IMS", f"IMSI {imsi}")
            return SmsDelivery(
                "delivered", time.monotonic() - started, "the IMS has no SMS pending for the UE"
            )
        self._note("sms timeout", f"{label}: still pending after {timeout:.0f} s", f"IMSI {imsi}")
        return SmsDelivery(
            "timeout", time.monotonic() - started, f"still pending at the IMS after {timeout:.0f} s"
        )

    def _note(self, kind: str, detail: str, identity: str = "") -> None:
        self._notes.append(CellEvent(time.time(), kind, "network", 0, identity, detail))

    def events(self, since: float | None = None) -> list[CellEvent]:
        seen = list(self._notes)
        for event in self.mme.events if self.mme else ():
            imsi = one_line(str(event.get("imsi", "")))
            if event.get("message") == "registration":
                kind = "registered" if event.get("registered") is True else "deregistered"
                detail = f"M-TMSI {one_line(str(event.get('m_tmsi', '')))}"
            else:
                kind, detail = (
                    "registration rejected",
                    f"EMM cause {one_line(str(event.get('emm_cause', '?')))}",
                )
            seen.append(
                CellEvent(
                    float(event["received"]), kind, "network", 0, f"IMSI {imsi}" if imsi else "", detail
                )
            )
        seen.sort(key=lambda e: e.when)
        return [e for e in seen if since is None or e.when >= since]

    def evidence(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        if self.mme is not None:  # the MME's own log lines since the last call, bounded by size
            try:
                logs = self.mme.call({"message": "log_get", "allow_empty": True, "timeout": 1, "max": 4096,
                                      "max_size": MESSAGE_LIMIT // 2})  # fmt: skip
                lines = [line for entry in logs.get("logs", []) if isinstance(entry, dict)
                         for line in entry.get("data", []) if isinstance(line, str)]  # fmt: skip
                path = folder / "cell-amarisoft-mme.log"
                path.write_text("".join(one_line(line) + "\n" for line in lines))
                written.append(path)
            except HarnessSetupError as err:
                self._note("log_get failed", one_line(str(err)))
        path = folder / "cell-amarisoft-api.json"
        transcript = {
            name: list(api.transcript) for name, api in (("mme", self.mme), ("ims", self.ims)) if api
        }
        path.write_text(json.dumps(transcript, indent=1))
        return [path, *written]
