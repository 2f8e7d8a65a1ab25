"""Talk to an IMPSY instrument's web UI from a laptop: fetch its logs, send it a model.

`impsy-train pull http://impsypi.local:4000 --dest logs` downloads the logs you do not have yet;
`impsy-train push MODEL [URL]` uploads a .tflite, which the instrument checks and makes active.
Only the standard library (urllib): no TensorFlow is imported for these.
"""

from __future__ import annotations

import base64
import getpass
import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import quote, urlencode

DEFAULT_URL = "http://impsypi.local:4000"
PASSWORD_ENV = "IMPSY_WEBUI_PASSWORD"
TIMEOUT = 120.0  # seconds: checking a model on a Zero 2 W takes a while


class RemoteError(Exception):
    """The instrument could not be reached or refused; the message says what to do."""


class NeedPassword(RemoteError):
    """The web UI has a password and none (or a wrong one) was given."""


class Remote:
    """One instrument's web UI, with the session cookie and CSRF token it hands out."""

    def __init__(self, url: str, password: str | None = None, timeout: float = TIMEOUT) -> None:
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise RemoteError(f"{url}: not a web address such as http://impsypi.local:4000")
        self.base = url.rstrip("/")
        self.password = password
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self._token: str | None = None

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = {"Accept": "application/json", **(headers or {})}
        if self.password is not None:
            credentials = base64.b64encode(f"impsy:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        if method == "POST":
            headers["X-CSRF-Token"] = self.token()
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method=method)
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", error.reason)
            except (ValueError, AttributeError):
                message = error.reason
            if error.code == 401:
                raise NeedPassword(str(message)) from None
            raise RemoteError(f"{self.base} refused ({error.code}): {message}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise RemoteError(
                f"cannot reach {self.base} ({reason}); is the instrument plugged in and started? "
                "If .local names do not work on this computer, use http://169.254.1.1:4000"
            ) from None

    def json(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        with self._request(method, path, body, headers) as response:
            try:
                return json.loads(response.read())
            except ValueError:
                raise self.stranger() from None

    def token(self) -> str:
        if self._token is None:
            self._token = self.field(self.json("GET", "/api/csrf"), "token")
        return self._token

    def field(self, answer: object, key: str):
        """answer[key] of a JSON answer, or a RemoteError if the server is not an IMPSY web UI."""
        if not isinstance(answer, dict) or key not in answer:
            raise self.stranger()
        return answer[key]

    def stranger(self) -> RemoteError:
        return RemoteError(f"{self.base} answered, but not as IMPSY's web UI does: is that its address?")

    def logs(self) -> list[dict]:
        return self.field(self.json("GET", "/api/logs"), "logs")

    def download(self, path: str, target: Path) -> int:
        """Save a file the web UI serves; written beside the target first, so never half-written."""
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        size = 0
        with self._request("GET", path) as response, open(part, "wb") as out:
            while chunk := response.read(256 * 1024):
                out.write(chunk)
                size += len(chunk)
        os.replace(part, target)
        return size

    def upload_model(self, model: Path, activate: bool = True, replace: bool = True) -> dict:
        query = urlencode({"name": model.name, "activate": int(activate), "replace": int(replace)})
        return self.json(
            "POST",
            f"/api/models?{query}",
            model.read_bytes(),
            {"Content-Type": "application/octet-stream"},
        )

    def restart(self) -> dict:
        return self.json("POST", "/api/restart", b"", {"Content-Type": "application/json"})


def pull(remote: Remote, dest: Path, out=sys.stdout) -> tuple[list[str], list[str]]:
    """Download every log `dest` does not already hold (same name and size); (fetched, kept)."""
    fetched, kept = [], []
    for log in remote.logs():
        name = log["name"]
        if Path(name).name != name or name.startswith("."):
            raise RemoteError(f"the instrument listed an odd log name {name!r}: refusing it")
        target = dest / name
        if target.is_file() and target.stat().st_size == log["bytes"]:
            kept.append(name)
            continue
        remote.download(f"/api/logs/{quote(name)}", target)
        fetched.append(name)
        print(f"  {target}", file=out)
    return fetched, kept


def push(remote: Remote, model: Path, activate: bool = True, restart: bool = False, out=sys.stdout) -> dict:
    """Upload a model; the instrument checks it and (by default) makes it active."""
    if model.suffix in (".keras", ".h5"):
        raise RemoteError(
            f"{model}: the instrument plays .tflite models; send {model.with_suffix('.tflite').name} "
            f"(make it with `impsy-train export {model}`)"
        )
    if model.suffix != ".tflite":
        raise RemoteError(f"{model}: expected a .tflite model file")
    if not model.is_file():
        raise RemoteError(f"{model}: no such file")
    result = remote.upload_model(model, activate=activate)
    print(result["message"], file=out)
    if restart:
        if activate and not result.get("activated"):
            print("not restarting: the model was not made active", file=out)
        else:
            print(remote.restart()["message"], file=out)
    return result


def with_password(action, url: str):
    """Run action(remote); ask for the web UI password if the instrument wants one."""
    remote = Remote(url, os.environ.get(PASSWORD_ENV))
    try:
        return action(remote)
    except NeedPassword:
        if remote.password is not None or not sys.stdin.isatty():
            raise NeedPassword(
                f"{remote.base} needs its web UI password"
                + (" (the one given was wrong)" if remote.password is not None else "")
                + f": type it when asked, or set ${PASSWORD_ENV}"
            ) from None
        remote = Remote(url, getpass.getpass(f"Password for {remote.base}: "))
        try:
            return action(remote)
        except NeedPassword:
            raise NeedPassword(f"{remote.base}: wrong password") from None
