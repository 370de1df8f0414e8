"""A PostgreSQL store's password never leaves the process (issue 22, point 2): `redact_url` masks every secret libpq
reads from a URL (checked against libpq's own parser), and on a real cluster with `?password=` URLs neither
`status`, `GET /admin/api/v1/config`, the "cannot be reached" log lines nor errors show it; `/ready` and `/health`
answer a code and nothing about the store (no URL, host, port, user or database)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
import yaml
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from actions_1flow.config import redact_url
from actions_1flow.secrets import URL_SECRET_PARAMETERS, scrub_url_secrets, url_secrets
from tests.helpers.cli import invoke
from tests.helpers.postgres import PostgresCluster
from tests.helpers.server import ServeProcess, cloud_config

URLS = [
    "postgresql://app:s3cret-userinfo@db.internal:5432/events",
    "postgresql://app@db.internal/events?password=s3cret-query",
    "postgresql://db.internal/events?sslmode=require&sslpassword=s3cret-sslkey-pass&password=s3cret-query",
    "postgresql://app:s3cret%40enc%2Fo%3Fded@db.internal/events",
    "postgresql://app@db.internal/events?pass%77ord=s3cret-encoded-name",
    "postgresql://app@db.internal/events?password=s3cret-first&password=s3cret-second",
    "postgres://app@/events?host=/var/run/postgresql&password=s3cret%26amp",
    "postgresql://app@db.internal/events?application_name=a@b&password=s3cret-after-at",
    "postgresql://app@db.internal/events?oauth_client_secret=s3cret-oauth&oauth_client_id=x",
    "postgresql://app@db.internal/events?scram_client_key=s3cret-scram-key",
    "host=db.internal password=s3cret-keyword user=app",
    "host=db.internal password = 's3cret with space' sslpassword=s3cret-ssl-kw",
]
"""Every one valid for libpq."""

NOT_FOR_LIBPQ = {
    "postgresql://app:p@ss-raw-at@db.internal/events": ["p@ss-raw-at"],
    "postgresql://app:pa/ss-raw-slash@db.internal/events?x=a@b": ["pa/ss-raw-slash"],
    "POSTGRESQL://app:s3cret-upper@db.internal/events?PASSWORD=s3cret-upper-param": [
        "s3cret-upper",
        "s3cret-upper-param",
    ],
    "postgresql://app@db.internal/events?Password=s3cret-mixed-case": ["s3cret-mixed-case"],
}
"""What a person may write meaning a password (libpq reads some differently, or refuses them): masked all the same."""


@pytest.mark.parametrize("url", URLS)
def test_redact_url_masks_every_secret_libpq_reads(url):
    parsed = conninfo_to_dict(url)  # libpq's own reading of the URL (PQconninfoParse)
    secrets = [parsed[name] for name in URL_SECRET_PARAMETERS if name in parsed]
    assert secrets, f"the example names no secret for libpq: {parsed}"
    shown = redact_url(url)
    for secret in secrets:
        assert secret not in shown and quote(secret, safe="") not in shown, shown
        assert secret in url_secrets(url)
    assert "***" in shown
    kept = [parsed[name] for name in ("host", "user", "dbname") if name in parsed and not parsed[name].startswith("/")]
    assert all(value in shown for value in kept), (kept, shown)  # the operator still sees where the store is


def test_repeated_parameters_are_all_masked_and_libpq_takes_the_last():
    url = "postgresql://app@db.internal/events?password=s3cret-first&password=s3cret-second"
    assert conninfo_to_dict(url)["password"] == "s3cret-second"
    assert redact_url(url) == "postgresql://app@db.internal/events?password=***&password=***"


@pytest.mark.parametrize("url", list(NOT_FOR_LIBPQ))
def test_what_libpq_would_misread_is_masked_whole(url):
    shown = redact_url(url)
    for secret in NOT_FOR_LIBPQ[url]:
        assert secret not in shown, shown
        pieces = [part for part in secret.replace("@", " ").replace("/", " ").split() if len(part) >= 4]
        assert not any(part in shown for part in pieces), shown  # no piece after a raw `@` or `/` either


def test_the_secret_parameters_cover_what_libpq_hides():
    """libpq marks its password-like options `*` (PQconndefaults); a newer libpq adding one fails here."""
    hidden = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"}
    assert hidden and hidden <= URL_SECRET_PARAMETERS, hidden - URL_SECRET_PARAMETERS
    assert {"sslkey", "passfile", "sslcert"}.isdisjoint(URL_SECRET_PARAMETERS)  # paths, not secrets


def test_a_driver_message_quoting_the_url_is_scrubbed():
    url = "postgresql://app:s3cret-userinfo@db/events?password=s3cret%2Dquery"
    message = 'invalid URI query parameter: "s3cret-query" near s3cret-userinfo'
    assert scrub_url_secrets(message, url) == 'invalid URI query parameter: "***" near ***'


# --- every surface, on a real cluster ---------------------------------------------------------------------------

USERINFO_SECRET = "S3cret-in-userinfo@x"
QUERY_SECRET = "S3cret-in-query-param"
SSL_SECRET = "S3cret-sslpassword"
TOKEN = "storage-secrets-admin-token-0123"


@pytest.fixture
def cluster():
    """A cluster of this test's own (the test stops it to make the store unreachable)."""
    own = PostgresCluster().start()
    yield own
    own.kill()


def _storage_url(cluster: PostgresCluster) -> str:
    database = cluster.create_database("secrets_db")
    assert database.endswith("/secrets_db")
    # trust authentication: the passwords are sent but not needed, so the URL works and carries every form
    return (
        f"postgresql://postgres:{quote(USERINFO_SECRET, safe='')}@127.0.0.1:{cluster.port}/secrets_db"
        f"?sslmode=disable&password={QUERY_SECRET}&sslpassword={SSL_SECRET}"
    )


def _assert_no_secret(text: str, where: str) -> None:
    for secret in (USERINFO_SECRET, quote(USERINFO_SECRET, safe=""), QUERY_SECRET, SSL_SECRET):
        assert secret not in text, f"{where} shows {secret!r}: {text[:2000]}"


def _assert_says_nothing_of_the_store(answer: httpx.Response, cluster: PostgresCluster, where: str) -> None:
    _assert_no_secret(answer.text, where)
    for detail in ("127.0.0.1", str(cluster.port), "secrets_db", "postgres", "postgresql"):
        assert detail not in answer.text, f"{where} tells {detail!r}: {answer.text}"


def test_no_surface_shows_the_database_password(tmp_path, cluster, sandbox_server):
    url = _storage_url(cluster)
    assert psycopg.connect(url).close() is None  # a URL libpq accepts, not just text
    path = cloud_config(tmp_path, sandbox_server.api_url(), [{"name": "web", "write_key": "wk_secrets"}])
    config = yaml.safe_load(path.read_text())
    config.update(storage=url, admin={"token": TOKEN})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    server = ServeProcess(path, tmp_path / "serve.log", "--no-worker")
    bearer = {"authorization": f"Bearer {TOKEN}"}
    track = {"userId": "u1", "event": "Secret Test"}
    try:
        assert server.http.post("/v1/track", json=track, auth=("wk_secrets", "")).status_code == 200
        status = invoke("status", "--config", str(path))
        assert status.exit_code == 0, status.output
        _assert_no_secret(status.output, "status")
        assert f"postgres:***@127.0.0.1:{cluster.port}/secrets_db" in status.output  # the operator sees where
        answer = server.http.get("/admin/api/v1/config", headers=bearer)
        assert answer.status_code == 200 and "password=***" in answer.json()["storage"]
        _assert_no_secret(answer.text, "GET /admin/api/v1/config")
        for route in ("/ready", "/health"):
            assert server.http.get(route).json()["ok"] is True

        cluster.stop("immediate")  # the store goes away under the running server
        refused = server.http.post("/v1/track", json=track, auth=("wk_secrets", ""))
        assert refused.status_code == 503
        _assert_no_secret(refused.text, "a refused /v1/track")
        deadline = time.monotonic() + 20
        while (answer := server.http.get("/ready")).status_code != 503:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.json()["code"] == "storage_unavailable"
        _assert_says_nothing_of_the_store(answer, cluster, "GET /ready during the outage")
        _assert_says_nothing_of_the_store(server.http.get("/health"), cluster, "GET /health during the outage")
        answer = server.http.get("/admin/api/v1/overview", headers=bearer)
        assert answer.status_code == 503
        _assert_no_secret(answer.text, "the admin API during the outage")
        down = invoke("status", "--config", str(path))
        assert down.exit_code != 0 and "cannot" in down.output
        _assert_no_secret(down.output, "status during the outage")
    finally:
        assert server.stop() in (0, -15)
    log = Path(server.log_path).read_text()
    assert "cannot be reached" in log and "storage_unavailable" in log  # the detail is logged …
    _assert_no_secret(log, "the server log")  # … without the password
