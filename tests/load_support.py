"""Load on several `jejak serve` processes, and the ledger to check the store against afterwards.

Each client (an asyncio task, httpx, keep-alive) runs for a bounded time a mix of commands (a report, then
`begin_review`, `register`, `forward` on it) and reads (the cases under review, the funnel audit, with
`?min_position=` its last write's position). Every command has an id of its own, sent as its
`Idempotency-Key` and recorded as the event's note, so the store can be checked against what the clients were
told: a command answered 2xx must be in the store exactly once; one that failed for good (the server gone, the
database down past its retries) at most once. A command that meets a dead connection, a 503 or a 409 for an
unfinished first request is retried with the same key, on the next server, within `RETRY_SECONDS`. Used by
tests/test_scale_out.py (faults) and bench/scale_out.py (figures).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx

WIB = timezone(timedelta(hours=7))
REPORT = dict(name="Budi Santoso", position_group="administrator", agency="pemkab-bima", province="prov-ntb",
              regency="kab-bima", category="social_media", election="pilkada-2024", reporter_name="Siti")
STEPS = ("begin_review", "register", "forward")
RETRY_SECONDS = 30.0
PENDING_SECONDS = 5.0  # a first attempt's key still taken after this long: its server died (see idempotency)
REQUEST_TIMEOUT = 10.0


@dataclass
class Command:
    request_id: str
    kind: str
    outcome: str = "unknown"  # acked (2xx), refused (a 4xx answer: nothing written by it), failed (gave up)
    status: int | None = None
    attempts: int = 0


@dataclass
class LoadResult:
    commands: list[Command] = field(default_factory=list)
    command_latencies: list[float] = field(default_factory=list)
    read_latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # every answer's status, and "transport" errors
    read_from: Counter = field(default_factory=Counter)
    retry_after_missing: int = 0  # 503 answers without Retry-After
    examples: dict = field(default_factory=dict)  # status -> the first such answer's body (what went wrong)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(c.outcome == outcome for c in self.commands)

    def summary(self) -> dict:
        acked = self.count("acked")
        return {"commands_sent": len(self.commands), "acked": acked, "refused": self.count("refused"),
                "failed": self.count("failed"), "reads": len(self.read_latencies),
                "commands_per_s": acked / self.seconds if self.seconds else 0.0,
                "command_ms": percentiles(self.command_latencies), "read_ms": percentiles(self.read_latencies),
                "statuses": dict(self.statuses), "read_from": dict(self.read_from), "examples": self.examples}


def percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(latencies)
    return {f"p{q}": round(1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)
            for q in (50, 95, 99)}


class Load:
    def __init__(self, servers: list[str], reporter_token: str, bawaslu_token: str, *, clients: int = 8,
                 seconds: float = 5.0, read_share: float = 0.3, min_position: bool = True, seed: int = 1):
        self.servers = servers
        self.tokens = {"reporter": reporter_token, "bawaslu": bawaslu_token}
        self.clients = clients
        self.seconds = seconds
        self.read_share = read_share
        self.min_position = min_position
        self.random = random.Random(seed)
        self.result = LoadResult()

    def run(self) -> LoadResult:
        return asyncio.run(self.run_async())

    async def run_async(self) -> LoadResult:
        limits = httpx.Limits(max_connections=self.clients * 2, max_keepalive_connections=self.clients * 2)
        async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as http:
            t0 = time.monotonic()
            end = t0 + self.seconds
            await asyncio.gather(*(self._client(http, i, end) for i in range(self.clients)))
            self.result.seconds = time.monotonic() - t0
        return self.result

    async def _client(self, http: httpx.AsyncClient, number: int, end: float) -> None:
        case_id, step, position = None, len(STEPS), 0
        at = datetime(2024, 10, 1, 9, tzinfo=WIB)
        while time.monotonic() < end:
            if self.random.random() < self.read_share:
                await self._read(http, number, position)
                continue
            if case_id is None or step == len(STEPS):
                answer = await self._command(http, number, "report", "/api/v1/cases", "reporter",
                                             lambda rid: {**REPORT, "occurred_at": at.isoformat(), "note": rid,
                                                          "external_ref": rid})
                case_id, step = (answer.json()["case_id"], 0) if answer is not None else (None, len(STEPS))
            else:
                trigger = STEPS[step]
                answer = await self._command(http, number, trigger, f"/api/v1/cases/{case_id}/triggers/{trigger}",
                                             "bawaslu", lambda rid: {"occurred_at": (at + timedelta(days=step + 1))
                                                                     .isoformat(), "note": rid})
                step = step + 1 if answer is not None else len(STEPS)  # a failed step: start a new case
            if answer is not None:
                position = max(position, int(answer.headers.get("Jejak-Position", 0)))

    async def _command(self, http, number: int, kind: str, path: str, who: str, body_of) -> httpx.Response | None:
        command = Command(f"load-{uuid.uuid4().hex}", kind)
        self.result.commands.append(command)
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": command.request_id}
        body = body_of(command.request_id)
        t0 = time.monotonic()
        server = number % len(self.servers)
        while True:
            command.attempts += 1
            try:
                answer = await http.post(self.servers[server] + path, json=body, headers=headers)
            except httpx.TransportError:  # the server died or is unreachable: the next one, same key
                self.result.statuses["transport"] += 1
                answer, pause = None, 0.1
                server = (server + 1) % len(self.servers)
            else:
                self.result.statuses[answer.status_code] += 1
                command.status = answer.status_code
                if not answer.is_success:
                    self.result.examples.setdefault(answer.status_code, f"POST {path}: {answer.text[:300]}")
                if answer.is_success:
                    command.outcome = "acked"
                    self.result.command_latencies.append(time.monotonic() - t0)
                    return answer
                if answer.status_code == 503:
                    self.result.retry_after_missing += "Retry-After" not in answer.headers
                    pause = min(1.0, float(answer.headers.get("Retry-After", 1)))
                elif answer.status_code == 409 and "idempotency" in answer.text:
                    pause = 0.5  # the first attempt still runs elsewhere, or its answer was lost
                    if time.monotonic() - t0 + pause > PENDING_SECONDS:
                        command.outcome = "failed"  # in the store at most once: the check says which
                        return None
                else:
                    command.outcome = "refused" if answer.status_code < 500 else "failed"
                    return None
            if time.monotonic() - t0 + pause > RETRY_SECONDS:
                command.outcome = "failed"
                return None
            await asyncio.sleep(pause)

    async def _read(self, http, number: int, position: int) -> None:
        path = self.random.choice(["/api/v1/cases?state=under_review", "/api/v1/audits/funnel"])
        if self.min_position and position:
            path += f"{'&' if '?' in path else '?'}min_position={position}"
        headers = {"Authorization": f"Bearer {self.tokens['bawaslu']}"}
        t0 = time.monotonic()
        try:
            answer = await http.get(self.servers[number % len(self.servers)] + path, headers=headers)
        except httpx.TransportError:
            self.result.statuses["transport"] += 1
            return
        self.result.statuses[answer.status_code] += 1
        if not answer.is_success:
            self.result.examples.setdefault(answer.status_code, f"GET {path}: {answer.text[:300]}")
        if answer.is_success:
            self.result.read_latencies.append(time.monotonic() - t0)
            self.result.read_from[answer.headers.get("Jejak-Read-From", "?")] += 1
        elif answer.status_code == 503:
            self.result.retry_after_missing += "Retry-After" not in answer.headers


def notes_in_store(app) -> Counter:
    """How many stored events carry each note (the load's command ids)."""
    notes: Counter = Counter()
    start = 0
    while True:
        page = app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False)
        if not page:
            return notes
        for notification in page:
            note = getattr(app.mapper.to_domain_event(notification), "note", None)
            if note:
                notes[note] += 1
        start = page[-1].id


def lost_or_doubled(app, commands: list[Command]) -> dict[str, list[str]]:
    """The commands the store contradicts: acknowledged but absent or doubled; failed or refused yet stored
    more than once; and stored events no command of the load sent."""
    notes = notes_in_store(app)
    ours = {c.request_id for c in commands}
    return {"acked_not_once": [c.request_id for c in commands if c.outcome == "acked" and notes[c.request_id] != 1],
            "others_doubled": [c.request_id for c in commands if c.outcome != "acked" and notes[c.request_id] > 1],
            "unknown_writes": [n for n in notes if n.startswith("load-") and n not in ours]}
