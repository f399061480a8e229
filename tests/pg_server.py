"""A real PostgreSQL server for the tests, started from Debian's postgresql package in a scratch
folder on a free port of 127.0.0.1, and stopped at the end of the session; and a SQLite file. The
class-room tests run against both (never a mock of either). Without PostgreSQL the tests that need
it are skipped, except under CI (CI=true), where they fail: `bash tests/install-system.sh` installs it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start; as the `postgres` user when this runs as root (PostgreSQL refuses root)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="makemore-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self.data = self.folder / "data"
        self.user = "postgres" if self.as_user else os.environ.get("USER", "postgres")
        self.databases = 0

    def _run(self, *args: str) -> None:
        result = subprocess.run(self.as_user + list(args), check=False, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> PostgresServer:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL: one per test."""
        import sqlalchemy as sa
        self.databases += 1
        name = f"rooms_{self.databases}_{int(time.time() * 1000) % 100000}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)


def start_postgres() -> PostgresServer:
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "no PostgreSQL here (initdb): run `bash tests/install-system.sh`"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the class-room tests against PostgreSQL")
        pytest.skip(message)
    return PostgresServer(bin_dir).start()
