"""`server.tls`: the server speaks HTTPS itself, with a certificate the test makes; a bad pair is a config error."""

from __future__ import annotations

import base64

import httpx
import pytest
import yaml

from actions_1flow.config import ConfigError, parse_config
from tests.helpers.server import ServeProcess, cloud_config
from tests.helpers.tls import self_signed


def test_serve_answers_https_with_the_configured_certificate(tmp_path, sandbox_server):
    cert, key = self_signed(tmp_path)
    config = cloud_config(
        tmp_path,
        sandbox_server.api_url(),
        [{"name": "web", "write_key": "wk_tls"}],
        tls={"cert": str(cert), "key": str(key)},
    )
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker", ca=cert)
    try:
        assert server.url.startswith("https://")
        auth = {"authorization": "Basic " + base64.b64encode(b"wk_tls:").decode()}
        r = server.http.post("/v1/track", json={"userId": "u", "event": "Over TLS"}, headers=auth)
        assert r.status_code == 200 and r.json() == {"success": True}
        assert r.extensions["http_version"] in (b"HTTP/1.1", "HTTP/1.1")
        with pytest.raises(httpx.ConnectError):  # the certificate is not trusted by default: it is really TLS
            httpx.get(server.url + "/health", timeout=5)
        with pytest.raises(httpx.RemoteProtocolError):  # and plain HTTP is not served on that port
            httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    finally:
        assert server.stop() in (0, -15), server.log_text()


def test_a_missing_or_mismatched_certificate_is_a_config_error(tmp_path):
    cert, key = self_signed(tmp_path, "one")
    other_cert, _ = self_signed(tmp_path, "two")

    def load(tls: dict) -> None:
        parse_config(yaml.safe_dump({"server": {"tls": tls}}), "tls.yaml")

    load({"cert": str(cert), "key": str(key)})
    with pytest.raises(ConfigError, match=r"server\.tls: .*no such file '/nope.pem'"):
        load({"cert": "/nope.pem", "key": str(key)})
    with pytest.raises(ConfigError, match=r"server\.tls: .*cannot use .*two\.crt with .*one\.key"):
        load({"cert": str(other_cert), "key": str(key)})
    with pytest.raises(ConfigError, match=r"server\.tls\.key: is required"):
        load({"cert": str(cert)})
