"""WebKitGTK (Debian's; Safari's engine) through Selenium's WebKitGTK driver: `WebKitWebDriver` runs the
MiniBrowser in automation mode on an Xvfb display of its own. The driver path is given, so Selenium Manager (and
any download) is skipped.

WebKitGTK's WebDriver has no init scripts and no BiDi: pages of our own carry `WATCH` themselves (`watched`);
on other pages `goto` installs it after the load event, so an error thrown while such a page loads shows only as
the page not getting ready (a page loaded by a form or a link is watched from the next `watch()` or `goto`).

One WebDriver session (one MiniBrowser window) serves every tab, one tab at a time; a tab's `close` clears the
cookies and storage of the origin it was on, which is all a page of these tests writes.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

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
"""Seconds for one WebDriver command (a new session included): a stalled browser fails the test, not the run."""


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


class WebKitEngine:
    name = "webkit"

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.common.proxy import Proxy, ProxyType
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        options.proxy = Proxy(
            {"proxyType": ProxyType.MANUAL, "httpProxy": DEAD_PROXY, "sslProxy": DEAD_PROXY, "noProxy": ["127.0.0.1"]}
        )
        self.xvfb = Xvfb()
        env = {**os.environ, "DISPLAY": self.xvfb.display, **ENVIRONMENT}
        self.service = Service(executable_path=DRIVER, env=env, log_output=subprocess.DEVNULL)
        try:
            self.service.start()
            config = ClientConfig(remote_server_addr=self.service.service_url, timeout=COMMAND_TIMEOUT)
            self.driver = webdriver.Remote(RemoteConnection(client_config=config), options=options)
        except BaseException:
            self.service.stop()
            self.xvfb.stop()
            raise
        self.driver.set_window_size(1280, 900)
        self.version = self.driver.capabilities["browserVersion"]

    def open(self, url: str) -> WebKitTab:
        return WebKitTab(self.driver, url)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.service.stop()
            self.xvfb.stop()
