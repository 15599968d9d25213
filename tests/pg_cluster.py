"""A PostgreSQL primary and a streaming replica of it, owned by one test session (or one benchmark run).

Both are clusters of their own (``initdb``, the replica seeded with ``pg_basebackup -R``) in a temporary
directory, on free ports of 127.0.0.1, so a test may stop and restart them without touching the shared
server on 5432 that other tests use. As root the PostgreSQL programs run as the ``postgres`` user. Clusters
left behind by a run that was killed (their directory names a process that no longer exists) are stopped and
removed first, so setting up is idempotent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.server_support import free_port

PREFIX = "jejak_scale_"


def bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are not installed")
    return versions[-1].parent


def _as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True, timeout=120)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Stop and delete the clusters of runs whose process is gone."""
    for directory in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        match = re.fullmatch(PREFIX + r"(\d+)_\w+", directory.name)
        if match and not _alive(int(match[1])):
            for data in directory.glob("*/PG_VERSION"):
                _as_postgres(str(bindir() / "pg_ctl"), "-D", str(data.parent), "stop", "-m", "immediate",
                             check=False)
            shutil.rmtree(directory, ignore_errors=True)


class Cluster:
    def __init__(self, root: Path, name: str):
        self.data = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c max_connections=200 "
                   "-c shared_buffers=32MB -c fsync=off -c full_page_writes=off")
        return _as_postgres(str(bindir() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                            "-o", options, *args, check=check)

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode, check=False)

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


class PrimaryWithReplica:
    """``with PrimaryWithReplica() as pair:`` a running primary and its streaming replica, removed at exit."""

    def __enter__(self) -> PrimaryWithReplica:
        remove_stale()
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}_"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            self.primary = Cluster(self.root, "primary")
            _as_postgres(str(bindir() / "initdb"), "-D", str(self.primary.data), "-U", "postgres", "--auth=trust",
                         "--no-sync", "-E", "UTF8", "--locale=C")
            with open(self.primary.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
                hba.write("host replication postgres 127.0.0.1/32 trust\n")
            self.primary.start()
            self.replica = Cluster(self.root, "replica")
            _as_postgres(str(bindir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                         "-U", "postgres", "-D", str(self.replica.data), "-R", "-X", "stream", "--no-sync")
            self.replica.start()
            self.replica.wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def create_database(self, name: str) -> str:
        """A database on the primary (it reaches the replica by replication); its URL on the primary."""
        with psycopg.connect(self.primary.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.primary.url(name)

    def replica_caught_up(self, seconds: float = 30) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary.admin_url, autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.replica.admin_url, autocommit=True, connect_timeout=2) as conn:
                    if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the replica did not replay up to {target} in {seconds} s")

    def __exit__(self, *exc) -> None:
        for cluster in (getattr(self, "replica", None), getattr(self, "primary", None)):
            if cluster is not None and (cluster.data / "postmaster.pid").exists():
                cluster.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
