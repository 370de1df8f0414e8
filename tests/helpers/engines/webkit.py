"""WebKitGTK (Debian's; Safari's engine) through Selenium's WebKitGTK driver: the MiniBrowser in automation mode on
an Xvfb display of its own, `WebKitWebDriver` attached to it (`--target`). The driver path is given, so Selenium
Manager (and any download) is skipped.

WebKitGTK's WebDriver has no init scripts and no BiDi: pages of our own carry `WATCH` themselves (`watched`);
on other pages `goto` installs it after the load event, so an error thrown while such a page loads shows only as
the page not getting ready (a page loaded by a form or a link is watched from the next `watch()` or `goto`).

One WebDriver session (one MiniBrowser window) serves every tab, one tab at a time; a tab's `close` clears the
cookies and storage of the origin it was on, which is all a page of these tests writes.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from ..process import proc_stat
from . import Tab

DRIVER = "/usr/bin/WebKitWebDriver"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
DEAD_PROXY = "127.0.0.1:9"
"""Offline but for 127.0.0.1: every other host goes to a proxy that is not there (a closed loopback port)."""
ENVIRONMENT = {"NO_AT_BRIDGE": "1", "WEBKIT_DISABLE_DMABUF_RENDERER": "1", "LC_ALL": "C"}
"""For the MiniBrowser: no accessibility bus to look for (there is no D-Bus session) and no DMA-BUF renderer (Xvfb
has no GPU device), both ways for it to stall on a headless machine; and the locale `C`, which WebKitGTK turns into
`navigator.language` "en-US". Under this machine's `C.UTF-8` it reports "C", an invalid language tag on which
`Intl.NumberFormat(navigator.language)` throws (and so does the console's chart library): no user's Safari has it."""
COMMAND_TIMEOUT = 60
"""Seconds for one WebDriver command: a stalled browser fails the test, not the run."""
SESSION_TIMEOUT = 30
"""Seconds for the new-session request. A session starts in 1 – 8 s here (8 with empty caches under load); now and
then (twice in about ten full runs, never in 400 launches alone or under synthetic load) the driver never answers."""
SESSION_ATTEMPTS = 3
"""Fresh browser, driver and display per attempt; each stalled attempt is reported as a warning with what the
processes were doing (`diagnosis`), so a retry is never silent and the next stall can be read off the run's log."""
START_TIMEOUT = 30
"""Seconds for the MiniBrowser to open its automation port."""
PORT_CHOICES = 5
"""Ports tried for the MiniBrowser's automation server before giving up (`MiniBrowser`)."""


def unclaimed_port() -> int:
    """A free loopback port below the kernel's ephemeral range: no other process's `bind(0)` or outgoing
    connection is ever given it, so it stays free until the program it is meant for binds it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10000, low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def listener(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:`port` (TCP), None when none is."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()  # sl local_address rem_address st ... inode
        if fields[3] == "0A" and fields[1] == f"0100007F:{port:04X}":
            inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:  # the process ended, or an fd closed, while we looked
            continue
    return None


class Xvfb:
    """A virtual X display on the first free number (`-displayfd`), stopped by `stop`."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
            pass_fds=[write],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as answer:
            number = answer.readline().strip()
        if not number:
            self.stop()
            raise RuntimeError("Xvfb did not start (is the xvfb package installed? `make setup` installs it)")
        self.display = f":{number}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class MiniBrowser:
    """The MiniBrowser in automation mode, its automation (remote inspector) server on `port`, which is open once
    this returns.

    We start it rather than letting `WebKitWebDriver` do so: the driver picks the port by binding port 0 and
    closing it, and if anything takes that port in the second or more before the browser binds it, the browser
    only warns and the new session waits for an answer that never comes (once in 80 launches, four at a time,
    on this machine). Ours is below the ephemeral range, and it is the browser that must be listening on it:
    should another process have bound it first, another port is chosen."""

    def __init__(self, display: str, log: Path) -> None:
        env = {**os.environ, "DISPLAY": display, **ENVIRONMENT}
        for _ in range(PORT_CHOICES):
            self.port = unclaimed_port()
            env["WEBKIT_INSPECTOR_SERVER"] = f"127.0.0.1:{self.port}"
            with log.open("ab") as output:
                self.process = subprocess.Popen(
                    [MINIBROWSER, "--automation"], env=env, stdout=output, stderr=subprocess.STDOUT
                )
            owner = self._wait_listening()
            if owner == self.process.pid:
                return
            self.stop()
        raise RuntimeError(f"the MiniBrowser could not open its automation port ({PORT_CHOICES} ports tried)")

    def _wait_listening(self) -> int | None:
        """The pid listening on the port once one is, None if the browser exits or `START_TIMEOUT` passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            owner = listener(self.port)
            if owner is not None:
                return owner
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WebKitTab(Tab):
    engine = "webkit"

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        self.goto(url)

    def goto(self, url: str) -> None:
        self.driver.get(url)
        self.watch()  # too late for what ran during the load: pages of our own carry it from the start

    def _evaluate(self, expression: str) -> Any:
        # WebDriver's Execute Script awaits a returned promise.
        return self.driver.execute_script(f"return {expression}")

    def close(self) -> None:
        self.driver.execute_script(
            "if (/^https?:$/.test(location.protocol)) { localStorage.clear(); sessionStorage.clear() }"
        )
        self.driver.delete_all_cookies()
        self.driver.get("about:blank")


class SessionStall(Exception):
    """The driver did not answer the new-session request within `SESSION_TIMEOUT`."""


class WebKitEngine:
    name = "webkit"

    def __init__(self) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="actions-1flow-webkit-"))
        try:
            self._start_with_retries()
        except BaseException:
            shutil.rmtree(self.logs, ignore_errors=True)
            raise
        self.driver.set_window_size(1280, 900)
        self.version = self.driver.capabilities["browserVersion"]

    def _start_with_retries(self) -> None:
        for attempt in range(1, SESSION_ATTEMPTS + 1):
            try:
                return self._start()
            except SessionStall as stall:
                report = f"WebKit: the new session stalled (attempt {attempt} of {SESSION_ATTEMPTS}):\n{stall}"
                if attempt == SESSION_ATTEMPTS:
                    raise RuntimeError(report) from None
                warnings.warn(report, RuntimeWarning, stacklevel=3)

    def _start(self) -> None:
        """Display, browser and driver, then the session; `SessionStall` (with every process stopped) when the
        session does not start in time."""
        from selenium import webdriver
        from selenium.webdriver.common.proxy import Proxy, ProxyType
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service
        from urllib3.exceptions import ReadTimeoutError

        options = Options()
        options.binary_location = MINIBROWSER  # the driver attaches to ours (`--target`) and starts none
        options.proxy = Proxy(
            {"proxyType": ProxyType.MANUAL, "httpProxy": DEAD_PROXY, "sslProxy": DEAD_PROXY, "noProxy": ["127.0.0.1"]}
        )
        for log in self.logs.iterdir():  # an earlier attempt's
            log.unlink()
        self.xvfb = Xvfb()
        self.browser: MiniBrowser | None = None
        self.service: Any = None
        try:
            self.browser = MiniBrowser(self.xvfb.display, self.logs / "MiniBrowser.log")
            self.service = Service(
                executable_path=DRIVER,
                port=unclaimed_port(),
                service_args=[f"--target=127.0.0.1:{self.browser.port}"],
                log_output=str(self.logs / "WebKitWebDriver.log"),
            )
            self.service.start()
            if listener(self.service.port) != self.service.process.pid:
                raise RuntimeError(f"another process answers on WebKitWebDriver's port {self.service.port}")
            config = ClientConfig(remote_server_addr=self.service.service_url, timeout=SESSION_TIMEOUT)
            try:
                self.driver = webdriver.Remote(RemoteConnection(client_config=config), options=options)
            except ReadTimeoutError:
                raise SessionStall(self.diagnosis()) from None
            config.timeout = COMMAND_TIMEOUT
        except BaseException:
            self._stop_processes()
            raise

    def diagnosis(self) -> str:
        """What each of the browser's and the driver's processes is doing (state, kernel wait, the main thread's
        stack when gdb is there), how either ended if it has, and the end of their logs."""
        assert self.browser is not None and self.service is not None
        lines = [describe(pid) for pid in [*family(self.browser.process.pid), *family(self.service.process.pid)]]
        for name, process in (("the MiniBrowser", self.browser.process), ("WebKitWebDriver", self.service.process)):
            code = process.poll()  # after `describe`, which shows an exited process as a zombie (Z)
            if code is not None:
                ended = f"by signal {-code} ({signal.strsignal(-code)})" if code < 0 else f"with exit code {code}"
                lines.insert(0, f"{name} (pid {process.pid}) had ended, {ended}")
        for log in sorted(self.logs.iterdir()):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            lines.append(f"--- {log.name} (last {len(tail)} lines)")
            lines.extend(tail)
        return "\n".join(lines)

    def open(self, url: str) -> WebKitTab:
        return WebKitTab(self.driver, url)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self._stop_processes()
            shutil.rmtree(self.logs, ignore_errors=True)

    def _stop_processes(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self.browser is not None:
            self.browser.stop()
        self.xvfb.stop()


def family(pid: int) -> list[int]:
    """`pid` and its descendants, parents first."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(proc_stat(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        found.append(queue.pop(0))
        queue.extend(children.get(found[-1], []))
    return found


def describe(pid: int) -> str:
    """One process: its command, state and kernel wait channel, then its main thread's innermost frames."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        state = proc_stat(pid)[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return f"{pid}: gone"
    text = f"{pid} [{state}, waiting in {wchan or '-'}] {command}"
    if shutil.which("gdb"):
        stack = subprocess.run(
            ["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "bt 12"], capture_output=True, text=True, timeout=60
        ).stdout
        text += "\n" + "\n".join(f"    {line}" for line in stack.splitlines() if line.startswith("#"))
    return text
