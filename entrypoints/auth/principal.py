"""The principal: the actor a credential proves, and the credential it came from."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.actors import Actor


@dataclass(frozen=True)
class Principal:
    actor: Actor  # recorded on the events this principal fires
    credential: str  # "token:ID" or "oidc:SUBJECT": the key of its idempotency records and access log

    def __str__(self) -> str:
        return f"{self.actor} ({self.credential})"
