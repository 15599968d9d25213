"""Scale-out on PostgreSQL, for real: a primary and its streaming replica owned by this module (own ports, so
the primary may be restarted), two `jejak serve` processes standing for the projection follower's election
and reading listings from the replica, and a `jejak project --follow` process. The processes are those of
compose.yaml. Faults under bounded load: kill -9 a server, kill -9 the projection leader, stop and restart
PostgreSQL. After each: every acknowledged write in the store exactly once, every failed one at most once,
no unknown write, no 500, read models equal a rebuild (on the primary and on the replica), `verify` passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine

from tests.load_support import REPORT, Load, lost_or_doubled
from tests.pg_cluster import PrimaryWithReplica
from tests.server_support import ROOT, ServerProcess, bearer, master_key

pytestmark = pytest.mark.postgres

LEADERS = """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'jejak-follower%%'
                AND a.datname = current_database()"""


class Deployment:
    """The processes of compose.yaml, on this module's primary and replica."""

    def __init__(self, pair: PrimaryWithReplica, owner_url: str, logs, tokens: dict):
        self.pair, self.owner_url, self.logs, self.tokens = pair, owner_url, logs, tokens
        # servers and follower as the application's role, reads on the replica as the reader's (`db secure`)
        self.url = owner_url.replace("postgres@", "jejak_app@")
        self.read_url = pair.replica.url("jejak").replace("postgres@", "jejak_reader@")
        self.env = {"JEJAK_MASTER_KEY": master_key(), "JEJAK_MIN_POSITION_WAIT": "2"}
        self.servers: list[ServerProcess] = []
        self.follower: subprocess.Popen | None = None
        self.started = 0
        self.commands = []  # every command any test's load sent, to check the whole store against

    def start_server(self, index: int | None = None) -> ServerProcess:
        self.started += 1
        port = self.servers[index].port if index is not None else None  # restarted where clients look for it
        server = ServerProcess(self.url, self.logs / f"server-{self.started}.log", "--projections", "follow",
                               "--read-db", self.read_url, "--no-access-log", env=self.env, port=port)
        server.wait_ready()
        if index is None:
            self.servers.append(server)
        else:
            self.servers[index] = server
        return server

    def start_follower(self) -> None:
        self.started += 1
        with open(self.logs / f"follower-{self.started}.log", "wb") as log:
            self.follower = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "--db", self.url, "project", "--follow", "--poll-interval",
                 "1"], cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 30
        while f"pid={self.follower.pid}" not in " ".join(self.candidates()):  # standing for election
            assert self.follower.poll() is None, (self.logs / f"follower-{self.started}.log").read_text()
            assert time.monotonic() < deadline, "the follower did not stand for election in 30 s"
            time.sleep(0.1)

    def candidates(self) -> list[str]:
        with psycopg.connect(self.owner_url, autocommit=True, connect_timeout=5) as conn:
            return [row[0] for row in conn.execute("SELECT application_name FROM pg_stat_activity WHERE "
                                                   "application_name LIKE 'jejak-follower%%'")]

    def leaders(self) -> list[int]:
        """The pids of the processes holding the follower's lock (application_name "jejak-follower pid=…")."""
        with psycopg.connect(self.owner_url, autocommit=True, connect_timeout=5) as conn:
            names = [row[0] for row in conn.execute(LEADERS)]
        return [int(name.split("pid=")[1].split()[0]) for name in names]

    def wait_for_leader(self, other_than: int | None = None, seconds: float = 15) -> int:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                leaders = self.leaders()
            except psycopg.OperationalError:
                leaders = []
            assert len(leaders) <= 1, f"two followers hold the lock: {leaders}"
            if leaders and leaders[0] != other_than:
                return leaders[0]
            time.sleep(0.1)
        raise AssertionError(f"no projection follower elected within {seconds} s")

    def process_of(self, pid: int):
        """('server', index) or ('follower', None) for a leader's pid."""
        for index, server in enumerate(self.servers):
            if server.process.pid == pid:
                return "server", index
        assert self.follower is not None and self.follower.pid == pid, f"pid {pid} is none of ours"
        return "follower", None

    def kill(self, pid: int) -> None:
        os.killpg(pid, signal.SIGKILL)
        kind, index = self.process_of(pid)
        (self.servers[index].process if kind == "server" else self.follower).wait(10)

    def restart(self, pid: int) -> None:
        kind, index = self.process_of(pid)
        if kind == "server":
            self.start_server(index)
        else:
            self.start_follower()

    def load(self, seconds: float, clients: int = 8) -> Load:
        return Load([s.url for s in self.servers], self.tokens["reporter"], self.tokens["bawaslu"],
                    clients=clients, seconds=seconds)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.follower is not None and self.follower.poll() is None:
            os.killpg(self.follower.pid, signal.SIGTERM)
            self.follower.wait(15)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from entrypoints.auth import tokens as api_tokens
    from entrypoints.cli.main import main

    logs = tmp_path_factory.mktemp("scale_out")
    with PrimaryWithReplica() as pair:  # roles are the cluster's: in a cluster of its own, the README's names
        owner_url = pair.create_database("jejak")
        assert main(["db", "secure", "--db", owner_url]) == 0  # as the README says: the owner secures the store
        engine = create_engine(owner_url)
        tokens = {"reporter": api_tokens.issue(engine, "reporter")[0],
                  "bawaslu": api_tokens.issue(engine, "bawaslu", "kab-bima", "andi")[0]}
        engine.dispose()
        pair.replica_caught_up()
        deployment = Deployment(pair, owner_url, logs, tokens)
        try:
            deployment.start_server()
            deployment.start_server()
            deployment.start_follower()
            deployment.wait_for_leader()
            yield deployment
        finally:
            deployment.stop()
            from projections.readside import engine_for, replica_engine_for

            engine_for.cache_clear()
            replica_engine_for.cache_clear()


def run_load_with(deployment: Deployment, fault, seconds: float = 6.0, after: float = 2.0):
    """Run the load for `seconds`, calling `fault()` `after` seconds in; returns the load's result."""
    load = deployment.load(seconds)
    timer = threading.Timer(after, fault)
    timer.start()
    try:
        return load.run()
    finally:
        timer.join()


def assert_consistent(deployment: Deployment, result) -> None:
    from entrypoints.bootstrap import open_jejak
    from projections.integrity import verify
    from projections.readside import ReadSide

    summary = result.summary()
    print(f"\n{summary}")  # the figures of the closing note (pytest -s)
    assert result.count("acked") > 0, summary
    assert result.statuses[500] == 0 and result.retry_after_missing == 0, summary
    assert result.count("refused") == 0, summary  # every command of the load is legal: none may be refused
    with open_jejak(deployment.owner_url) as app:  # the owner: only it may rebuild the read models
        deployment.commands += result.commands
        contradictions = lost_or_doubled(app, deployment.commands)
        assert contradictions == {"acked_not_once": [], "others_doubled": [], "unknown_writes": []}, summary
        read_side = ReadSide(app, catch_up_on_read=False)
        newest = app.recorder.max_notification_id()
        deadline = time.monotonic() + 30  # the elected follower catches up by itself
        while read_side.position() < newest:
            assert time.monotonic() < deadline, f"the follower is stuck at {read_side.position()} < {newest}"
            time.sleep(0.1)
        followed = read_side.snapshot(catch_up=False)
        deployment.pair.replica_caught_up()
        replica = ReadSide(app, url=deployment.read_url).snapshot(catch_up=False)
        assert replica == followed
        read_side.rebuild()
        assert read_side.snapshot(catch_up=False) == followed
        assert verify(app).ok


def test_one_follower_and_reads_from_the_replica_say_how_fresh(deployment):
    assert len(deployment.leaders()) == 1
    assert len(deployment.candidates()) == 3  # two servers and `jejak project --follow`, one of them leading
    leading = [httpx.get(s.url + "/healthz").json()["projection_leader"] for s in deployment.servers]
    assert leading.count(True) == (deployment.leaders()[0] in [s.process.pid for s in deployment.servers])
    with psycopg.connect(deployment.read_url) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # a real hot standby
        assert conn.execute("SELECT current_user").fetchone()[0] == "jejak_reader"
    a, b = deployment.servers
    reporter, bawaslu = bearer(deployment.tokens["reporter"]), bearer(deployment.tokens["bawaslu"])
    created = httpx.post(a.url + "/api/v1/cases", headers=reporter,
                         json={**REPORT, "occurred_at": "2024-10-01T09:00+07:00"})
    assert created.status_code == 201, created.text
    position = int(created.headers["Jejak-Position"])
    # read your own write on the other server: the replica (or, if it lags, the primary) at that position
    listing = httpx.get(b.url + f"/api/v1/cases?min_position={position}", headers=bawaslu)
    assert listing.status_code == 200, listing.text
    assert int(listing.headers["Jejak-Position"]) >= position
    assert listing.headers["Jejak-Read-From"] in ("replica", "primary")
    assert created.json()["case_id"] in [row["case_id"] for row in listing.json()]
    audit = httpx.get(b.url + "/api/v1/audits/funnel", headers=bawaslu)
    assert audit.status_code == 200 and audit.headers["Jejak-Read-From"] == "replica"
    assert int(audit.headers["Jejak-Position"]) >= 0
    for path in ("/", "/ppk", "/overdue", "/integrity"):  # the dashboard reads the replica as the audits do
        page = httpx.get(b.url + path)
        assert page.status_code == 200 and page.headers["Jejak-Read-From"] == "replica", path
    ahead = httpx.get(a.url + f"/api/v1/cases?min_position={position + 10**9}", headers=bawaslu)
    assert ahead.status_code == 422 and "min_position" in ahead.json()["detail"]


def test_kill_a_server_under_load_loses_nothing(deployment):
    victim = deployment.servers[0]
    result = run_load_with(deployment, lambda: os.killpg(victim.process.pid, signal.SIGKILL))
    victim.process.wait(10)
    assert result.statuses["transport"] > 0, result.summary()  # clients saw it die, and went to the other
    deployment.start_server(0)
    deployment.wait_for_leader()
    assert_consistent(deployment, result)


def test_kill_the_projection_leader_another_takes_over(deployment):
    """Twice under load: the leader, then the one that took over (of three candidates, one is left)."""
    killed, takeovers = [], []

    def kill_leaders():
        leader = deployment.wait_for_leader()
        for _ in range(2):
            kinds.append(deployment.process_of(leader)[0])
            deployment.kill(leader)
            killed.append(leader)
            t0 = time.monotonic()
            new_leader = deployment.wait_for_leader(other_than=leader)
            takeovers.append((new_leader, round(time.monotonic() - t0, 2)))
            deployment.restart(leader)  # a server comes back: the clients always have one to go to
            leader = new_leader

    kinds: list[str] = []
    result = run_load_with(deployment, kill_leaders, seconds=10.0)
    print(f"\nkilled leaders {killed} ({kinds}); taken over by (pid, seconds): {takeovers}")
    assert len(takeovers) == 2 and takeovers[0][0] != killed[0] and takeovers[1][0] != killed[1], takeovers
    assert_consistent(deployment, result)


def test_postgres_restart_under_load_503_then_recovery(deployment):
    pids = [s.process.pid for s in deployment.servers]

    def outage():
        deployment.pair.primary.stop("fast")
        time.sleep(3)
        deployment.pair.primary.start()

    result = run_load_with(deployment, outage, seconds=10.0)
    assert result.statuses[503] > 0, result.summary()  # answered, with Retry-After (checked below), no 500
    assert [s.process.pid for s in deployment.servers] == pids and all(s.process.poll() is None
                                                                       for s in deployment.servers)
    answer = httpx.get(deployment.servers[0].url + "/readyz")  # recovered by itself, no restart
    assert answer.status_code == 200
    deployment.wait_for_leader()
    assert_consistent(deployment, result)
    for server in deployment.servers:
        assert "Traceback" not in server.output(), server.output()[-3000:]


def test_a_read_never_answers_older_than_min_position(tmp_path):
    """With nobody projecting (`--projections external`, no follower running), a read asking for a position the
    read models have not reached waits, then answers 503 with Retry-After, not stale rows; once `jejak project`
    has run, the primary answers it. A replica without a follower, or an unknown mode, is refused at start."""
    from tests.server_support import pg_database

    with pg_database() as url:
        server = ServerProcess(url, tmp_path / "server.log", "--projections", "external", "--insecure-dev",
                               env={"JEJAK_MIN_POSITION_WAIT": "0.5"}).wait_ready()
        try:
            from entrypoints.auth import tokens as api_tokens

            engine = create_engine(url)
            token = bearer(api_tokens.issue(engine, "bawaslu", "kab-bima")[0])
            engine.dispose()
            created = httpx.post(server.url + "/api/v1/cases", headers=token,
                                 json={**REPORT, "occurred_at": "2024-10-01T09:00+07:00"})
            position = int(created.headers["Jejak-Position"])
            behind = httpx.get(server.url + f"/api/v1/cases?min_position={position}", headers=token)
            assert behind.status_code == 503 and behind.headers["Retry-After"].isdigit(), behind.text
            assert "not reached position" in behind.json()["detail"]
            as_is = httpx.get(server.url + "/api/v1/cases", headers=token)  # no demand: what is projected
            assert as_is.status_code == 200 and as_is.json() == [] and as_is.headers["Jejak-Position"] == "0"
            subprocess.run([sys.executable, "-m", "entrypoints.cli", "--db", url, "project"], cwd=ROOT, check=True,
                           capture_output=True)
            fresh = httpx.get(server.url + f"/api/v1/cases?min_position={position}", headers=token)
            assert fresh.status_code == 200 and fresh.headers["Jejak-Read-From"] == "primary"
            assert [row["case_id"] for row in fresh.json()] == [created.json()["case_id"]]
        finally:
            server.stop()
        for args, wanted in [(["--read-db", url], "jejak: error: JEJAK_READ_DB"),
                             (["--projections", "sometimes"], "invalid choice")]:
            refused = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--db", url, "--insecure-dev",
                                      *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert refused.returncode == 2 and wanted in refused.stderr, refused.stderr
            assert "Traceback" not in refused.stderr


def test_the_python_client_reads_its_own_writes_from_the_replica(deployment):
    from entrypoints.client import Client

    with Client(deployment.servers[1].url, deployment.tokens["bawaslu"]) as client:
        case_id = client.report(occurred_at="2024-10-01T09:00+07:00", **{k: v for k, v in REPORT.items()
                                                                        if k != "reporter_name"})
        client.advance(case_id, "begin_review", occurred_at="2024-10-02T09:00+07:00")
        assert client.position > 0
        assert str(case_id) in [row["case_id"] for row in client.cases(state="under_review")]
        assert client.audit("funnel")["reported"].sum() >= 1


def test_compose_runs_the_processes_this_test_runs():
    """compose.yaml is the deployment these tests exercise: a primary, a replica seeded by pg_basebackup -R,
    two servers standing for the follower's election and reading from the replica, a `project --follow`."""
    import yaml

    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert "pg_basebackup" in " ".join(services["replica"]["entrypoint"]) and " -R " in \
        " ".join(services["replica"]["entrypoint"])
    for name in ("server1", "server2"):
        command = services[name]["command"]
        assert command[0] == "serve" and command[command.index("--projections") + 1] == "follow"
        assert "@replica:" in services[name]["environment"]["JEJAK_READ_DB"]
        assert "@primary:" in services[name]["environment"]["JEJAK_DB"]
    assert services["follower"]["command"][:2] == ["project", "--follow"]
    assert "@primary:" in services["follower"]["environment"]["JEJAK_DB"]
