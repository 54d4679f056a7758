"""A throwaway PostgreSQL database for end-to-end tests, on the machine's own server.

PostgreSQL is installed on these machines but not started: the server is started here if
it is not running (as root, with pg_ctlcluster). Each test database and its loading role
are created fresh and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.helpers import locked, require_mark


@dataclass(frozen=True)
class Database:
    """A database and a role (with a non-UTC time zone) that owns it."""

    host: str
    port: int
    name: str
    user: str
    password: str

    def connect(self) -> psycopg.Connection:
        """A connection whose session time zone is UTC (for comparing instants)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=self.name,
            user=self.user,
            password=self.password,
            options="-c timezone=UTC",
            autocommit=True,
        )

    def target_env(self) -> dict[str, str]:
        """The target-postgres settings, as Meltano reads them from the environment."""
        return {
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": self.password,
            "TARGET_POSTGRES_DATABASE": self.name,
        }


def _as_superuser(sql: str) -> None:
    """Run SQL as the server's superuser (root: through `su postgres`)."""
    command = ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", "postgres", "-c", sql]
    if os.geteuid() == 0:
        command = ["su", "postgres", "-c", " ".join(_quote(part) for part in command)]
    subprocess.run(command, check=True, capture_output=True, text=True)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\"'\"'") + "'"


def _server_ready(host: str, port: int) -> bool:
    try:
        with psycopg.connect(host=host, port=port, dbname="postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError as exc:
        # Reachable but refusing this login: the server is up.
        return "password" in str(exc) or "authentication" in str(exc) or "role" in str(exc)


def ensure_server(host: str = "localhost", port: int = 5432) -> None:
    """Start the local cluster if nothing answers on `port`.

    Under a lock: pytest-xdist's workers all ask at once, and a second `pg_ctlcluster
    start` while the first one's server is coming up fails.
    """
    if _server_ready(host, port):
        return
    with locked(Path(tempfile.gettempdir()) / "tap-hindsight-tests-postgres.lock"):
        _start_server(host, port)


def _start_server(host: str, port: int) -> None:
    if _server_ready(host, port):
        return
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if not clusters or shutil.which("pg_ctlcluster") is None:
        msg = "PostgreSQL is not running and no local cluster was found to start"
        raise RuntimeError(msg)
    version = clusters[-1].parent.name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
        check=True,
        capture_output=True,
    )
    for _ in range(60):
        if _server_ready(host, port):
            return
        time.sleep(0.5)
    msg = f"PostgreSQL {version} did not come up on {host}:{port}"
    raise RuntimeError(msg)


def create_database(time_zone: str = "America/New_York") -> Database:
    """A fresh database owned by a fresh role whose time zone is `time_zone`."""
    require_mark("postgres", "PostgreSQL databases are created")
    ensure_server()
    suffix = secrets.token_hex(4)
    database = Database(
        host="localhost",
        port=5432,
        name=f"hindsight_test_{suffix}",
        user=f"hindsight_loader_{suffix}",
        password=secrets.token_hex(12),
    )
    _as_superuser(
        f"CREATE ROLE {database.user} LOGIN PASSWORD '{database.password}'; "
        f"ALTER ROLE {database.user} SET timezone = '{time_zone}';"
    )
    _as_superuser(f"CREATE DATABASE {database.name} OWNER {database.user}")
    return database


def drop_database(database: Database) -> None:
    """Remove the database and its role."""
    _as_superuser(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")
    _as_superuser(f"DROP ROLE IF EXISTS {database.user}")
