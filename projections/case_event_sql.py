"""`case_event` made by PostgreSQL: the rows of a range of the log in one statement, the events' JSON decoded where
it is stored.

The Python projector (projections.case_event) spends ~10 µs of the catch-up's one Python process on each event;
PostgreSQL does the same work in another process, on the other core, while Python folds `case_summary`
(projections.catchup runs the two concurrently, each in its own transaction). A store takes this path when
PostgreSQL can read its events: no cipher, no compression. What the row builder knows in Python (an event class's
name and trigger from its topic, each state's stage, each era's sanction severities and handovers) is handed to
the statement as arrays, so there is one source for it; what is decided per event (the times that can be shown,
the state before, a correction's patch) follows `CaseEventProjector.row` clause by clause, and
tests/test_case_event_sql.py holds the two paths to the same rows. Upcasts only add fields as null (checked
there too), which a missing JSON key already is.
"""

from __future__ import annotations

from functools import cache

from eventsourcing.utils import get_topic
from sqlalchemy import Connection

from projections.case_summary import sanction_info, stage_of
from projections.tables import case_event
from projections.times import SHOWN
from workflow.case import EVENT_FOR_TRIGGER, Case
from workflow.definitions import ERAS, NEW, STATES
from workflow.recorder_adapter import postgres_events_table

_ROWS = """
WITH page AS MATERIALIZED (  -- the page's events picked first, then decoded
    SELECT notification_id, originator_id::text AS case_id, originator_version AS version, topic,
           convert_from(state, 'UTF8')::jsonb AS j
    FROM (SELECT * FROM {events} WHERE notification_id > %(after)s AND notification_id <= %(until)s
          ORDER BY notification_id LIMIT %(limit)s) AS picked
), kinds AS (
    SELECT * FROM unnest(%(topics)s::text[], %(types)s::text[], %(triggers)s::text[]) AS k(topic, event_type, trigger)
), stages AS (
    SELECT * FROM unnest(%(states)s::text[], %(stages)s::text[]) AS s(state, stage)
), severities AS (
    SELECT * FROM unnest(%(sev_eras)s::text[], %(sev_codes)s::text[], %(sev_values)s::int[]) AS s(era, code, severity)
), handovers AS (
    SELECT * FROM unnest(%(ho_eras)s::text[], %(ho_triggers)s::text[], %(ho_roles)s::text[], %(ho_for)s::text[])
        AS h(era, trigger, role, acting_for)
), decoded AS (
    SELECT p.notification_id, p.case_id, p.version, k.event_type, k.trigger, p.j,
           j->>'state' AS state_after, j->>'workflow_version' AS workflow_version,
           regexp_replace(j->>'workflow_version', '@[^@]*$', '') AS era,
           j->'actor'->>'role' AS role,
           (j->'occurred_at'->>'_data_')::timestamptz AS occurred_given,
           (j->'timestamp'->>'_data_')::timestamptz AS recorded_given,
           (j->'due_at'->>'_data_')::timestamptz AS due_given,
           (j->'missed_due_at'->>'_data_')::timestamptz AS missed_given,
           lag(p.version) OVER by_case AS previous_version, lag(j->>'state') OVER by_case AS previous_state
    FROM page AS p JOIN kinds AS k ON k.topic = p.topic
    WINDOW by_case AS (PARTITION BY p.case_id ORDER BY p.notification_id)
), inserted AS (
    INSERT INTO case_event (notification_id, case_id, version, trigger, event_type, actor_role, actor_scope,
        actor_id, state_before, state_after, stage_after, occurred_at, recorded_at, workflow_version, era, note,
        deadline, due_at, missed_deadline, missed_due_at, target, track, sanction, severity, ppk, decree_number,
        decree_date, reason, occurred_at_stated, corrects_version, import_file, import_sha256, import_line,
        acting_for)
    SELECT d.notification_id, d.case_id, d.version, d.trigger, d.event_type, coalesce(d.role, '?'),
        j->'actor'->>'scope', CASE WHEN d.role = 'reporter' THEN NULL ELSE j->'actor'->>'id' END,
        CASE WHEN d.version = 1 THEN %(new)s
             WHEN d.previous_version IS NOT NULL
                 THEN CASE WHEN d.previous_version = d.version - 1 THEN d.previous_state ELSE '?' END
             ELSE coalesce((SELECT state_after FROM case_event AS c
                            WHERE c.case_id = d.case_id AND c.version = d.version - 1), '?') END,
        d.state_after, s.stage,
        coalesce(t.occurred, t.recorded, %(shown_from)s),
        coalesce(t.recorded, t.occurred, %(shown_from)s),
        d.workflow_version, d.era, j->>'note', j->>'deadline', t.due,
        CASE WHEN d.event_type = 'MarkedOverdue' THEN j->>'missed_deadline' END,
        CASE WHEN d.event_type = 'MarkedOverdue' THEN t.missed END,
        CASE WHEN d.event_type IN ('Forwarded', 'Escalated') THEN j->>'to' END,
        CASE WHEN d.event_type IN ('Recommended', 'SanctionImposed') THEN j->>'track' END,
        CASE WHEN d.event_type IN ('Recommended', 'SanctionImposed') THEN j->>'sanction' END,
        CASE WHEN d.event_type IN ('Recommended', 'SanctionImposed') THEN v.severity END,
        CASE WHEN d.event_type = 'Recommended' THEN j->>'ppk' END,
        CASE WHEN d.event_type = 'SanctionImposed' THEN j->>'decree_number' END,
        CASE WHEN d.event_type = 'SanctionImposed' THEN j->>'decree_date' END,
        CASE WHEN d.event_type = 'DepartureRecorded' THEN j->>'reason' END,
        CASE WHEN t.occurred IS NULL THEN j->'occurred_at'->>'_data_' END,
        CASE WHEN d.event_type = 'DateCorrected' THEN (j->>'corrected_version')::int END,
        j->'imported_from'->>'file', j->'imported_from'->>'sha256', (j->'imported_from'->>'line')::int,
        h.acting_for
    FROM decoded AS d
    CROSS JOIN LATERAL (  -- projections.times.shown: a time the read models can show (1900-2199 UTC), else null
        SELECT CASE WHEN occurred_given >= %(shown_from)s AND occurred_given < %(shown_until)s
                    THEN occurred_given END AS occurred,
               CASE WHEN recorded_given >= %(shown_from)s AND recorded_given < %(shown_until)s
                    THEN recorded_given END AS recorded,
               CASE WHEN due_given >= %(shown_from)s AND due_given < %(shown_until)s THEN due_given END AS due,
               CASE WHEN missed_given >= %(shown_from)s AND missed_given < %(shown_until)s
                    THEN missed_given END AS missed) AS t
    LEFT JOIN stages AS s ON s.state = d.state_after
    LEFT JOIN severities AS v ON v.era = d.era AND v.code = j->>'sanction'
    LEFT JOIN handovers AS h ON h.era = d.era AND h.trigger = d.trigger AND h.role = d.role
    RETURNING 1
)
SELECT (SELECT count(*) FROM page), (SELECT max(notification_id) FROM page), (SELECT count(*) FROM inserted),
       (SELECT min(topic) FROM page WHERE topic NOT IN (SELECT topic FROM kinds)),
       (SELECT count(*) FROM page WHERE topic = %(correction)s)
"""

# a correction patches the row of the event it corrects (CaseEventProjector's _correct); the latest one wins
_CORRECTIONS = """
UPDATE case_event AS c SET occurred_at = fix.corrected, occurred_at_stated = fix.stated
FROM (SELECT DISTINCT ON (case_id, corrected_version) case_id, corrected_version, corrected, stated FROM (
        SELECT notification_id, originator_id::text AS case_id, (j->>'corrected_version')::int AS corrected_version,
               CASE WHEN corrected_at >= %(shown_from)s AND corrected_at < %(shown_until)s THEN corrected_at END
                   AS corrected, j->'stated_at'->>'_data_' AS stated
        FROM (SELECT notification_id, originator_id, j, (j->'corrected_at'->>'_data_')::timestamptz AS corrected_at
              FROM (SELECT notification_id, originator_id, convert_from(state, 'UTF8')::jsonb AS j FROM {events}
                    WHERE notification_id > %(after)s AND notification_id <= %(until)s AND topic = %(topic)s) AS e
             ) AS given
     ) AS found ORDER BY case_id, corrected_version, notification_id DESC) AS fix
WHERE c.case_id = fix.case_id AND c.version = fix.corrected_version
"""


class UnreadableEvents(RuntimeError):
    """The log holds an event PostgreSQL cannot project (a topic this code does not know)."""


def usable(app) -> bool:
    """Whether PostgreSQL can read this store's events itself: PostgreSQL, JSON neither ciphered nor compressed."""
    mapper = app.mapper
    return (app.url.get_backend_name() == "postgresql" and mapper.cipher is None and mapper.compressor is None
            and type(mapper.transcoder).__name__ == "JSONTranscoder")


def _parameters() -> dict:
    return _rules(tuple(ERAS))  # anew when an era is added (workflow.definitions.add_era_file)


@cache
def _rules(_eras: tuple[str, ...]) -> dict:
    """What the row builder knows in Python, as the statement's arrays."""
    kinds = [(get_topic(cls), cls.__name__, trigger) for trigger, cls in EVENT_FOR_TRIGGER.items()]
    severities = [(era_id, code, sanction_info(era_id, code)[1]) for era_id, era in ERAS.items()
                  for code in era.all_sanctions]
    handovers = [(era_id, trigger, h.to, era.acting_for(trigger, h.to)) for era_id, era in ERAS.items()
                 for h in era.handovers for trigger in {row["trigger"] for row in era.transitions}
                 if era.acting_for(trigger, h.to) is not None]
    return {
        "topics": [k[0] for k in kinds], "types": [k[1] for k in kinds], "triggers": [k[2] for k in kinds],
        "states": STATES, "stages": [stage_of(state) for state in STATES],
        "sev_eras": [s[0] for s in severities], "sev_codes": [s[1] for s in severities],
        "sev_values": [s[2] for s in severities],
        "ho_eras": [h[0] for h in handovers], "ho_triggers": [h[1] for h in handovers],
        "ho_roles": [h[2] for h in handovers], "ho_for": [h[3] for h in handovers],
        "new": NEW, "shown_from": SHOWN[0], "shown_until": SHOWN[1], "correction": get_topic(Case.DateCorrected),
    }


class CaseEventInDatabase:
    """The `case_event` projection made by PostgreSQL: `project(conn, after, until, limit)` inserts the rows of the
    first `limit` events after position `after` up to `until`, in the caller's transaction, and says how many and
    up to which position."""

    name = "case_event"
    table = case_event  # the same read model as the Python projector's
    in_database = True

    def __init__(self, app):
        from psycopg import sql

        events = postgres_events_table(app.recorder)
        self._rows, self._corrections = (sql.SQL(text).format(events=events).as_string(None)
                                         for text in (_ROWS, _CORRECTIONS))

    def project(self, conn: Connection, after: int, until: int, limit: int) -> tuple[int, int]:
        parameters = {**_parameters(), "after": after, "until": until, "limit": limit}
        count, last, inserted, unknown, corrections = conn.exec_driver_sql(self._rows, parameters).one()
        if inserted != count:
            raise UnreadableEvents(f"event topic {unknown!r} after position {after} is not a case event this "
                                   "version of Jejak knows: the read side cannot project it")
        if corrections:
            conn.exec_driver_sql(self._corrections, {"after": after, "until": last, "topic": parameters["correction"],
                                                     "shown_from": SHOWN[0], "shown_until": SHOWN[1]})
        return count, last or after
