"""Read-model tables: plain SQL in the events' database, readable by any SQL client (psql, Metabase, Excel).

Times are stored in UTC (SQLite keeps no offset) and come back timezone-aware. Durations are in days
(fractional, from ``occurred_at`` to ``occurred_at``). No projected table holds the reporter's name, contact
or identity number: the `Reported` event keeps them apart and no projector reads them; an actor id of the
``reporter`` role is not projected either.

Tables (see each table's ``comment`` and its columns' ``comment`` for the meaning of every field):

``case_summary``
    one row per case: where it stands, each milestone's ``occurred_at`` and recorded time, recommended vs
    imposed sanction with severities, overdue/blocked/escalated flags and days spent in each stage.
``case_event``
    the audit trail: one row per event, in log order (``notification_id``).
``event_chain``
    the tamper-evidence hash chain over the stored events (see ``projections.integrity``).
``projection_position``
    how far each projection has applied the notification log.
``read_model_schema``
    a fingerprint of the read-model schema; a change rebuilds the read models.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table,
                        Text, TypeDecorator)


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

# A position in the event log, as a primary key: on SQLite declared INTEGER, so that it is the table's rowid
# and rows appended in log order need no separate key index (BIGINT would get one).
LOG_POSITION = BigInteger().with_variant(Integer, "sqlite")

# How far each projection has applied the notification log (one row per projection).
projection_position = Table(
    "projection_position", metadata,
    Column("projection", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False, comment="last notification id applied"),
    comment="Catch-up position of each projection in the notification log.",
)

read_model_schema = Table(
    "read_model_schema", metadata,
    Column("name", String(100), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    comment="Fingerprint of each read model's schema; a mismatch triggers a rebuild.",
)

# The stages a case passes through, for durations; a state belongs to at most one stage.
# `correction`, `bawaslu_handling`, `commission_examination` and `ppk_follow_up` are the deadline stages of
# workflow.definitions.STAGE_OF_STATE; `intake` (reported, under review) has no deadline of its own.
STAGES = ("intake", "correction", "bawaslu_handling", "commission_examination", "ppk_follow_up")
MILESTONES = {  # column prefix -> the trigger whose first occurrence marks it
    "reported": "report",
    "review_begun": "begin_review",
    "registered": "register",
    "forwarded": "forward",
    "examination_begun": "begin_examination",
    "recommended": "recommend",
    "ppk_examination_begun": "begin_ppk_examination",
    "sanctioned": "impose_sanction",
    "correction_requested": "request_correction",
    "correction_submitted": "submit_correction",
    "returned": "return_to_bawaslu",
    "overdue": "mark_overdue",
    "blocked": "block_personnel_data",
    "unblocked": "unblock_personnel_data",
    "escalated": "escalate",
}

_milestone_columns = []
for _name, _trigger in MILESTONES.items():
    _milestone_columns += [
        Column(f"{_name}_at", UTCDateTime, index=_name in ("reported", "recommended"),
               comment=f"when '{_trigger}' first happened (occurred_at, as stated)"),
        Column(f"{_name}_recorded_at", UTCDateTime, comment=f"when that '{_trigger}' event was recorded"),
    ]



def _import_columns(what: str) -> list[Column]:
    """Where imported history came from (null when recorded live): the file, its SHA-256 and the row's line."""
    return [Column("import_file", String(255), comment=f"when {what}: the file's name"),
            Column("import_sha256", String(64), comment="that file's SHA-256 (hex): which version of it"),
            Column("import_line", Integer, comment="the row's line in that file (CSV: physical line; XLSX: row)")]


case_summary = Table(
    "case_summary", metadata,
    Column("case_id", String(36), primary_key=True, comment="the case id (UUID), as printed by `jejak report`"),
    Column("version", Integer, nullable=False, comment="number of events of the case"),
    Column("state", String(40), nullable=False, index=True, comment="current state"),
    Column("is_open", Boolean, nullable=False, comment="not in a final state"),
    Column("stage", String(30), comment="current stage (see STAGES), null when closed or in none"),
    Column("stage_entered_at", UTCDateTime, comment="when the current stage began (occurred_at)"),
    Column("era", String(20), nullable=False, comment="legal era the case is handled under"),
    Column("workflow_version", String(30), nullable=False, comment="workflow version of the latest event"),
    Column("source", String(10), nullable=False, comment="report (laporan) or finding (temuan)"),
    Column("has_reporter", Boolean, nullable=False, comment="a reporter is on file (who is not projected)"),
    Column("external_ref", String(200), comment="reference in an outside register, if any"),
    Column("province", String(60), nullable=False, comment="province as it stands today, its alias, e.g. prov-ntb"),
    Column("regency", String(60), comment="regency/city as it stands today, its alias, e.g. kab-bima (null: province level)"),
    Column("province_code", String(2), comment="today's province: Kemendagri code, e.g. 52 (null: not in the official list)"),
    Column("regency_code", String(5), comment="today's regency/city: Kemendagri code, e.g. 52.06"),
    Column("province_reported", String(60), nullable=False, comment="province as reported: its Kemendagri code on the report's date (e.g. 91 for a 2020 Merauke case), else the text recorded"),
    Column("regency_reported", String(60), comment="regency/city as reported: its code on the report's date (e.g. 91.01), else the text recorded"),
    Column("agency", String(80), nullable=False, comment="employing agency of the reported civil servant"),
    Column("agency_type", String(20), nullable=False, comment="province, regency, city, ministry or agency"),
    Column("ppk", String(80), nullable=False, comment="agency whose staffing authority (PPK) must act"),
    Column("position_group", String(20), nullable=False, comment="functional, pelaksana, jpt, administrator, pengawas, non_asn, other"),
    Column("category", String(30), nullable=False, comment="violation category, e.g. social_media"),
    Column("election", String(20), nullable=False, comment="kind-year, e.g. pilkada-2020"),
    Column("election_kind", String(10), nullable=False, comment="pilkada (regional) or pemilu (general)"),
    Column("election_year", Integer, nullable=False, comment="the election's year"),
    Column("commission", String(10), comment="kasn or bkn, once forwarded"),
    Column("filing_deadline", String(40), comment="report_filing or finding_record, when the incident date was given"),
    Column("filing_due_at", UTCDateTime, comment="by when the report (or finding) was due after the incident"),
    Column("filed_late", Boolean, comment="reported after filing_due_at (null: no incident date, or no deadline)"),
    *_milestone_columns,
    Column("closed_at", UTCDateTime, comment="when a final state was reached (occurred_at)"),
    Column("closed_recorded_at", UTCDateTime, comment="when the closing event was recorded"),
    Column("updated_at", UTCDateTime, nullable=False, comment="occurred_at of the latest event"),
    Column("updated_recorded_at", UTCDateTime, nullable=False, comment="recorded time of the latest event"),
    Column("recommended_track", String(20), comment="ethics, discipline or non_asn"),
    Column("recommended_sanction", String(40), comment="sanction code recommended"),
    Column("recommended_level", String(10), comment="moral, light, medium or heavy"),
    Column("recommended_severity", Integer, comment="workflow.sanctions severity, higher is heavier"),
    Column("imposed_track", String(20), comment="ethics, discipline or non_asn"),
    Column("imposed_sanction", String(40), comment="sanction code imposed by the PPK"),
    Column("imposed_level", String(10), comment="moral, light, medium or heavy"),
    Column("imposed_severity", Integer, comment="workflow.sanctions severity, higher is heavier"),
    Column("decree_number", String(200), comment="the PPK's decree (SK) number"),
    Column("decree_date", String(10), comment="the decree's date (YYYY-MM-DD), when given"),
    Column("imposed_lighter", Boolean, comment="imposed severity below the recommended one (null: not both)"),
    Column("deadline", String(40), comment="the running deadline's name"),
    Column("due_at", UTCDateTime, index=True, comment="when the running deadline falls due"),
    Column("deadline_missed", Boolean, nullable=False, comment="the running deadline's miss is recorded"),
    Column("overdue", Boolean, nullable=False, comment="any deadline miss was ever recorded"),
    Column("overdue_count", Integer, nullable=False, comment="number of recorded deadline misses"),
    Column("ppk_overdue", Boolean, nullable=False, comment="the PPK follow-up deadline was missed"),
    Column("personnel_data_blocked", Boolean, nullable=False, comment="BKN blocks personnel data now"),
    Column("ever_blocked", Boolean, nullable=False, comment="personnel data was blocked at some point"),
    Column("escalated", Boolean, nullable=False, comment="escalated at least once"),
    Column("escalation_count", Integer, nullable=False, comment="number of escalations"),
    Column("escalated_to", String(100), comment="comma-separated escalation targets, in order"),
    Column("departure_reason", String(20), comment="left, retired or resigned (record_departure)"),
    *[Column(f"days_{stage}", Float, nullable=False,
             comment=f"days spent in stage {stage} (finished stints only; add now - stage_entered_at if open)")
      for stage in STAGES],
    *[Column(f"stints_{stage}", Integer, nullable=False,
             comment=f"finished stints in stage {stage} (a case returned to a stage has several)")
      for stage in STAGES],
    *[Column(f"had_deadline_{stage}", Boolean, nullable=False,
             comment=f"a deadline ran in a finished stint in stage {stage}")
      for stage in STAGES],
    *[Column(f"over_deadline_{stage}", Boolean, nullable=False,
             comment=f"a finished stint in stage {stage} ended after its deadline")
      for stage in STAGES],
    Column("era_reason", Text, comment="why the case is under another era than the one in force on its "
                                       "report's date (a finding's or an import's explicit era); null if none"),
    Column("replaced_times", Integer, nullable=False,
           comment="events whose stated occurred_at is not the one shown (see case_event.occurred_at_stated)"),
    *_import_columns("the case was brought in by `jejak import`"),
    Column("handed_over_to", String(20),
           comment="the body that took the case over from one that ceased to act (bkn for KASN's pending cases "
                   "from Sept 2024): the first forward to it, or act by it, in the ended body's place"),
    Column("handed_over_at", UTCDateTime, comment="when that first happened (occurred_at)"),
    comment="One row per case: current state, milestones, sanctions, flags and stage durations.",
)

case_event = Table(
    "case_event", metadata,
    Column("notification_id", LOG_POSITION, primary_key=True, autoincrement=False,
           comment="position in the event log"),
    Column("case_id", String(36), nullable=False, comment="the case id (UUID)"),
    Column("version", Integer, nullable=False, comment="the event's version within its case (1 = report)"),
    Column("trigger", String(40), nullable=False, comment="the workflow trigger, e.g. recommend"),
    Column("event_type", String(40), nullable=False, comment="the event class, e.g. Recommended"),
    Column("actor_role", String(20), nullable=False, comment="reporter, bawaslu, kasn, bkn, ppk or system"),
    Column("actor_scope", String(80), comment="the actor's jurisdiction: region or agency code"),
    Column("actor_id", String(100), comment="the officer; never projected for the reporter role"),
    Column("state_before", String(40), nullable=False, comment="'new' for the report"),
    Column("state_after", String(40), nullable=False, comment="the state after the event"),
    Column("stage_after", String(30), comment="the deadline stage after the event, if any"),
    Column("occurred_at", UTCDateTime, nullable=False, comment="when it happened, as stated"),
    Column("recorded_at", UTCDateTime, nullable=False, comment="when it was recorded"),
    Column("workflow_version", String(30), nullable=False, comment="the workflow version it was decided under"),
    Column("era", String(20), nullable=False, comment="legal era of the case"),
    Column("note", Text, comment="the actor's note or reason"),
    Column("deadline", String(40), comment="the deadline running after this event"),
    Column("due_at", UTCDateTime, comment="when that deadline falls due"),
    Column("missed_deadline", String(40), comment="mark_overdue: the deadline missed"),
    Column("missed_due_at", UTCDateTime, comment="mark_overdue: when the missed deadline fell due"),
    Column("target", String(40), comment="forward: the commission; escalate: the target"),
    Column("track", String(20), comment="recommend / impose_sanction"),
    Column("sanction", String(40), comment="recommend / impose_sanction: sanction code"),
    Column("severity", Integer, comment="that sanction's severity"),
    Column("ppk", String(80), comment="recommend: the PPK addressed"),
    Column("decree_number", String(200), comment="impose_sanction: the decree (SK) number"),
    Column("decree_date", String(10), comment="impose_sanction: the decree's date, when given"),
    Column("reason", String(20), comment="record_departure"),
    Column("occurred_at_stated", String(60),
           comment="the occurred_at the event stated, when occurred_at shows another: the time a later "
                   "correct_date gave it, or, until then, the recorded time (the stated one is outside 1900-2199)"),
    Column("corrects_version", Integer, comment="correct_date: the version whose stated time it corrects"),
    *_import_columns("the event was written by `jejak import`"),
    Column("acting_for", String(20), comment="the body that ceased to act in whose place the actor acted, under "
                                             "the era's handover (kasn, when BKN acts on a KASN-era case)"),
    # one row per (case, version): a case's history and the state before an event are index lookups
    Index("ix_case_event_case_version", "case_id", "version", unique=True),
    comment="The audit trail: one row per event, in log order.",
)

event_chain = Table(
    "event_chain", metadata,
    Column("position", LOG_POSITION, primary_key=True, autoincrement=False, comment="notification id"),
    Column("seq", BigInteger, nullable=False, unique=True, comment="1-based index in the chain"),
    Column("originator_id", String(36), nullable=False, comment="the case id"),
    Column("originator_version", Integer, nullable=False, comment="the event's version within its case"),
    Column("content_hash", String(64), nullable=False, comment="SHA-256 of the stored event"),
    Column("link", String(64), nullable=False, comment="SHA-256 of previous link, position, content hash"),
    comment="The readers' copy of the hash chain the write side keeps in jejak_chain (projections.event_chain).",
)

READ_MODELS = (case_summary, case_event)  # rebuilt by ReadSide.rebuild(); the chain copy only on request


def fingerprint(table: Table) -> str:
    """A digest of a table's columns, types and indexes: stored to notice a schema change."""
    text = ";".join(f"{c.name}:{c.type!r}:{c.nullable}" for c in table.columns)
    indexes = ";".join(sorted(f"{i.name}:{','.join(c.name for c in i.columns)}" for i in table.indexes))
    return hashlib.sha256(f"{table.name}|{text}|{indexes}".encode()).hexdigest()
