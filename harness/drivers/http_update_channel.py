"""Updates delivered over HTTP: uploaded to the device's own update endpoint (`updates.delivery.
http_upload`), or the device is sent a request naming the URL it is to fetch from the lab's update
server (`updates.delivery.http_fetch`, `{url}` in the path).

The request is made on the lab side of the device's network. What the device answers is bounded
(ANSWER_LIMIT) and its status code is its word: 2xx accepted, anything else refused.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from typing import Any

from harness.capabilities import HandOver, UpdateChannel
from harness.device.registry import BuildContext, provides
from harness.drivers.console_update_channel import publish
from harness.errors import DeviceError

ANSWER_LIMIT = 64 * 1024


def _request(
    device: Any,
    scheme: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
) -> HandOver:
    host, lab_port = device.endpoint("tcp", port)
    with device.lab_side():
        if scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the device's own certificate is not what is judged here
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, lab_port, timeout=timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(host, lab_port, timeout=timeout)
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise DeviceError(
                f"the device's update endpoint {host}:{lab_port} cannot be reached: {error}"
            ) from None
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(ANSWER_LIMIT).decode("utf-8", errors="replace")
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        return HandOver(False, None, f"no answer from the device's update endpoint: {error}")
    finally:
        connection.close()
    return HandOver(200 <= status < 300, status, f"HTTP {status}\n{answer}")


class HttpUploadChannel(UpdateChannel):
    def __init__(self, settings: Any, device_ref: dict[str, Any]) -> None:
        self.settings = settings
        self._device_ref = device_ref
        self.description = (
            f"{settings.method} to the device's {settings.scheme}://DEVICE:{settings.port}{settings.path}"
        )

    def deliver(self, filename: str, data: bytes, timeout: float) -> HandOver:
        s = self.settings
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        return _request(
            self._device_ref["device"], s.scheme, s.port, s.method, s.path, data, headers, timeout
        )


class HttpFetchChannel(UpdateChannel):
    def __init__(self, settings: Any, device_ref: dict[str, Any]) -> None:
        self.settings = settings
        self._device_ref = device_ref
        self.description = (
            f"{settings.method} {settings.scheme}://DEVICE:{settings.port}{settings.path} "
            "naming the package's URL on the lab's update server"
        )

    def deliver(self, filename: str, data: bytes, timeout: float) -> HandOver:
        device = self._device_ref["device"]
        url = publish(device, filename, data)
        s = self.settings
        path = s.path.replace("{url}", urllib.parse.quote(url, safe=""))
        handed = _request(
            device, s.scheme, s.port, s.method, path, b"" if s.method == "POST" else None, {}, timeout
        )
        return HandOver(handed.accepted, handed.status, handed.output, url)


@provides(UpdateChannel, order=50)
def _upload(ctx: BuildContext) -> HttpUploadChannel | None:
    updates = ctx.profile.updates
    if updates is None or updates.delivery.http_upload is None:
        return None
    return HttpUploadChannel(updates.delivery.http_upload, ctx.shared.setdefault("device-ref", {}))


@provides(UpdateChannel, order=50)
def _fetch(ctx: BuildContext) -> HttpFetchChannel | None:
    updates = ctx.profile.updates
    if updates is None or updates.delivery.http_fetch is None:
        return None
    return HttpFetchChannel(updates.delivery.http_fetch, ctx.shared.setdefault("device-ref", {}))
