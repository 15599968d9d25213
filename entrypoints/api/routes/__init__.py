"""One router per resource: cases (and their triggers, events, reporter), audits, system (tick, verify, digest,
health)."""
