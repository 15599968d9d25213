"""The dashboard in-process (FastAPI's TestClient) on a small demo store with planted data: public pages show
aggregates only and withhold small counts, every value is escaped, the pages carry a CSP and write nothing,
sign-in keeps the credential in a secure cookie and case pages follow the API's rules, and the figures are the
audit API's. The browser tests (test_dashboard_browser.py) click through the same pages in Chromium."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from entrypoints.api.app import create_app
from entrypoints.api.settings import ServerSettings
from entrypoints.auth import tokens
from entrypoints.auth.oidc import OIDCSettings
from entrypoints.cli.main import main
from entrypoints.tables import SERVER_TABLES
from entrypoints.web import disclosure
from tests.dashboard_support import PLANTED, PUBLIC_PAGES, SCRIPT, make_store, secrets_in
from tests.server_support import bearer

ROOT = Path(__file__).parent.parent
LOCALE = ROOT / "entrypoints" / "web" / "locale"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'jejak.db'}"
    return url, make_store(url)


@pytest.fixture(scope="module")
def site(store, keys):
    """(client, token(role, scope) -> str, planted case id); one server for the module."""
    url, planted = store
    engine = tokens.engine_for_tokens(url)
    settings = ServerSettings(db=url, insecure_dev=True, oidc=OIDCSettings.from_env(keys.env()))
    with TestClient(create_app(settings)) as client:
        yield client, (lambda role, scope=None: tokens.issue(engine, role, scope)[0]), planted
    engine.dispose()


def signed_in(client, token: str) -> TestClient:
    client.cookies.clear()
    response = client.post("/signin", data={"credential": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def body(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


# --- public pages ------------------------------------------------------------------------------------------

def test_public_pages_show_no_planted_data_and_carry_the_csp(site):
    client, _, planted = site
    client.cookies.clear()
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert secrets_in(response.text) == [], path
        assert planted not in response.text, f"{path} shows a case id"
        if not path.endswith(".csv"):
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
            assert '<html lang="id">' in response.text  # Indonesian by default
            assert "<script" not in response.text.lower()  # no script at all, inline or not
    assert client.get(f"/cases/{planted}").status_code == 401  # case pages: signed in only


def test_the_small_count_rule_withholds_the_planted_agency_in_public_and_not_signed_in(site):
    client, token, _ = site
    client.cookies.clear()
    row = body(client.get("/ppk?sort=ppk").text).split(f'data-ppk="{PLANTED["agency"]}"', 1)[1].split("</tr>")[0]
    assert "&lt; 3" in row and "100" not in row  # one recommendation received: no figures
    assert "Pemerintah Kabupaten Kepulauan Anambas" in row  # the agency's official name, from the reference data
    csv = pd.read_csv(io.StringIO(client.get("/ppk.csv").text), dtype=str).set_index("ppk")
    assert list(csv.loc[PLANTED["agency"]]) == ["Pemerintah Kabupaten Kepulauan Anambas"] + ["<3"] * 6
    agency = body(client.get(f"/ppk/{PLANTED['agency']}").text)
    assert "&lt; 3" in agency and "/cases/" not in agency
    assert "<h1>Pemerintah Kabupaten Kepulauan Anambas <code>pemkab-kepulauan-anambas</code></h1>" in agency
    signed_in(client, token("auditor"))
    csv = pd.read_csv(io.StringIO(client.get("/ppk.csv").text)).set_index("ppk")
    assert csv.loc[PLANTED["agency"], "received"] == 1


def test_withhold_rule_one_and_rule_two():
    frame = pd.DataFrame({"ppk": ["a", "b", "c", "d"], "received": [1, 7, 4, 0], "rate": [1.0, 0.5, 0.25, None]})
    out = disclosure.withhold(frame, "received", ["rate"], k=3)
    # rule 1 withholds a (1 case); rule 2 then withholds c, the next smallest, so a total cannot give a back
    assert list(out["withheld"]) == [True, False, True, False]
    assert out.loc[[0, 2], ["received", "rate"]].isna().all().all()
    assert out.loc[1, "received"] == 7 and out.loc[3, "received"] == 0  # zero singles out no one
    two = disclosure.withhold(pd.DataFrame({"received": [1, 2, 9]}), "received", [], k=3)
    assert list(two["withheld"]) == [True, True, False]  # two rows withheld already: no third
    assert disclosure.min_cases({"JEJAK_PUBLIC_MIN_CASES": "5"}) == 5
    with pytest.raises(Exception, match="2 or more"):
        disclosure.min_cases({"JEJAK_PUBLIC_MIN_CASES": "1"})


# --- the same numbers as the API ---------------------------------------------------------------------------

def test_league_table_equals_the_responsiveness_audit_filtered_and_sorted(site):
    client, token, _ = site
    auditor = token("auditor")
    signed_in(client, auditor)
    api = pd.DataFrame(client.get("/api/v1/audits/responsiveness", params={"by": ["province", "ppk"]},
                                  headers=bearer(auditor)).json())
    expected = api[api["province"] == "prov-ntb"].sort_values(["received", "ppk"], ascending=[False, True])
    shown = pd.read_csv(io.StringIO(client.get("/ppk.csv", params={"province": "prov-ntb", "sort": "received",
                                                                   "dir": "desc"}).text))
    assert list(shown["ppk"]) == list(expected["ppk"])
    for column in ("received", "followed_up", "overdue", "blocked"):
        assert list(shown[column]) == list(expected[column])
    assert shown["follow_up_rate"].round(9).tolist() == expected["follow_up_rate"].round(9).tolist()
    response = client.get("/ppk", params={"province": "prov-ntb", "sort": "received", "dir": "desc"})
    page = body(response.text)
    assert [part.split('"')[0] for part in page.split('data-ppk="')[1:]] == list(expected["ppk"])
    audit = client.get("/api/v1/audits/responsiveness", headers=bearer(auditor))  # one server, no replica
    assert response.headers["Jejak-Read-From"] == audit.headers["Jejak-Read-From"] == "primary"
    assert response.headers["Jejak-Position"] == audit.headers["Jejak-Position"]


def test_overview_funnel_equals_the_funnel_audit_as_of_a_date(site):
    client, token, _ = site
    client.cookies.clear()
    auditor = token("auditor")
    api = client.get("/api/v1/audits/funnel", params={"by": "election", "as_of": "2020-09-30"},
                     headers=bearer(auditor)).json()
    expected = next(row for row in api if row["election"] == "pilkada-2020")
    page = body(client.get("/", params={"election": "pilkada-2020", "as_of": "2020-09-30"}).text)
    for step in ("reported", "registered", "forwarded", "recommended", "sanctioned"):
        cell = page.split(f'data-step="{step}"', 1)[1]
        assert f'data-value="{expected[step]}"' in cell.split("</tr>")[0], step
    assert "30 Sep 2020" in page and "<polyline" in page


# --- signed in ---------------------------------------------------------------------------------------------

def test_sign_in_keeps_the_credential_in_a_secure_cookie_and_case_pages_escape_everything(site):
    client, token, planted = site
    client.cookies.clear()
    response = client.post("/signin", data={"credential": token("bawaslu", "kab-bima")}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "jejak_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie and "max-age" not in cookie  # plain HTTP here; a browser-session cookie
    page = client.get(f"/cases/{planted}").text
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    assert "&lt;b&gt;catatan&lt;/b&gt;" in page and PLANTED["name"] in page
    assert PLANTED["reporter_name"] not in page  # reporter data is never on a page
    before = body(client.get(f"/cases/{planted}", params={"as_of": "2020-10-03"}).text)
    assert before.count("<tr><td>") == 3 and "<code>register</code>" in before and "recommend</code>" not in before
    client.post("/signout", follow_redirects=False)
    assert client.get(f"/cases/{planted}").status_code == 401


def test_a_cookie_is_secure_over_tls(store):
    url, _ = store
    with TestClient(create_app(ServerSettings(db=url, insecure_dev=True)), base_url="https://testserver") as client:
        engine = tokens.engine_for_tokens(url)
        response = client.post("/signin", data={"credential": tokens.issue(engine, "auditor")[0]},
                               follow_redirects=False)
        engine.dispose()
    assert "; secure" in response.headers["set-cookie"].lower()


def test_sign_in_refusals_and_a_revoked_token(site, store):
    client, token, planted = site
    client.cookies.clear()
    assert client.post("/signin", data={"credential": "jjk_nope_nope"}).status_code == 401
    assert client.post("/signin", data={"credential": token("reporter")}).status_code == 403
    other_site = client.post("/signin", data={"credential": token("auditor")},
                             headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert other_site.status_code == 403 and "set-cookie" not in other_site.headers
    revocable = token("auditor")
    signed_in(client, revocable)
    assert client.get(f"/cases/{planted}").status_code == 200
    engine = tokens.engine_for_tokens(store[0])
    tokens.revoke(engine, revocable)
    engine.dispose()
    assert client.get(f"/cases/{planted}").status_code == 401  # at the next request, as the API


def test_oidc_token_signs_in(site, keys):
    client, _, planted = site
    signed_in(client, keys.token(jejak_role="auditor", jejak_scope=None))
    assert client.get(f"/cases/{planted}").status_code == 200
    assert "auditor@andi" in client.get("/").text


# --- languages, refusals, writing nothing ------------------------------------------------------------------

def test_language_switch_and_local_redirects_only(site):
    client, _, _ = site
    client.cookies.clear()
    response = client.get("/language/en", params={"next": "/ppk?sort=received"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ppk?sort=received"
    page = client.get("/ppk").text
    assert '<html lang="en">' in page and "PPK league table" in page
    client.cookies.set("jejak_lang", "id")
    assert "Peringkat PPK" in client.get("/ppk").text
    for evil in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        assert client.get("/language/id", params={"next": evil}, follow_redirects=False).headers["location"] == "/"
    refused = client.get("/language/fr")
    assert refused.status_code == 422 and "text/html" in refused.headers["content-type"]
    client.cookies.clear()


def test_bad_input_is_a_page_with_the_reason_never_500(site):
    client, _, _ = site
    for path, status, words in [("/ppk?sort=nope", 422, "sort"), ("/?as_of=2020-13-01", 422, "as_of"),
                                ("/?as_of=2999-01-01", 422, "today"), ("/?election=pemilu-1999", 422, "election"),
                                ("/ppk?province=prov-nowhere", 422, "province"), ("/ppk/nobody", 404, "nobody")]:
        response = client.get(path)
        assert response.status_code == status and words in response.text, path
        assert "content-security-policy" in response.headers


def test_the_dashboard_writes_nothing(site, store):
    client, token, planted = site
    engine = create_engine(store[0])

    def counts():
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*), MAX(rowid) FROM stored_events")).one()
            return (tuple(stored), *[conn.execute(select(func.count()).select_from(t)).scalar()
                                     for t in SERVER_TABLES])

    client.get("/")  # catch the read models up first: that is the read side's upkeep, not the dashboard's
    before = counts()
    for path in PUBLIC_PAGES:
        client.get(path)
    signed_in(client, token("bawaslu", "kab-bima"))
    after_sign_in = counts()
    for path in (*PUBLIC_PAGES, f"/cases/{planted}", f"/cases/{planted}?as_of=2020-10-03", "/overdue"):
        client.get(path)
    assert counts() == after_sign_in
    assert counts()[0] == before[0]  # no event; (issuing the token above wrote api_token, not the dashboard)
    engine.dispose()


def test_integrity_page_shows_the_head_and_the_last_verification(site, store, capsys):
    client, token, _ = site
    digest = client.get("/api/v1/digest", headers=bearer(token("auditor"))).json()["digest"]
    page = body(client.get("/integrity").text)
    assert digest in page and f"jejak verify --digest {digest}" in page
    assert 'id="checkpoints"' in page
    assert main(["--db", store[0], "verify", "--digest", digest]) == 0
    capsys.readouterr()
    page = body(client.get("/integrity").text)
    assert 'class="ok"' in page and "Lolos" in page and 'id="no-checkpoint"' in page
    assert main(["--db", store[0], "checkpoint"]) == 0  # signed with the tests' JEJAK_SIGNING_KEY
    note = capsys.readouterr().out
    origin, size, root = note.split("\n")[:3]
    page = body(client.get("/integrity").text)
    assert 'id="checkpoint-list"' in page and root in page and origin in page
    assert f"{int(size):,}".replace(",", ".") in page  # the tree size, counted the Indonesian way


# --- catalogs ----------------------------------------------------------------------------------------------

def test_every_visible_string_is_in_the_catalogs_and_translated(tmp_path):
    extracted = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "entrypoints/web/babel.cfg"), "-k", "gettext", "--no-location", "--omit-header",
                    "-o", str(extracted), str(ROOT / "entrypoints/web")], check=True, capture_output=True)
    ids = {m.id for m in read_po(extracted.open("rb")) if m.id}
    committed = {m.id for m in read_po((LOCALE / "messages.pot").open("rb")) if m.id}
    assert ids == committed, "run pybabel extract (README: Dashboard) and update the catalogs"
    for lang in ("id", "en"):
        catalog = read_po((LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb"), locale=lang)
        translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
        assert ids <= translated, f"{lang}: untranslated {sorted(ids - translated)[:5]}"


def test_the_cumulative_curve_is_the_funnel_audit_at_its_dates(store):
    from entrypoints.bootstrap import open_jejak
    from projections import audits, dashboard

    with open_jejak(store[0]) as app:
        for recorded in (False, True):
            curve = dashboard.cumulative_curve(app, "pilkada-2020", points=12, recorded=recorded)
            funnel = audits.funnel(app, by="election", as_of=list(curve["as_of"]), recorded=recorded)
            funnel = funnel[funnel["election"] == "pilkada-2020"].reset_index(drop=True)
            assert len(curve) == 12 and curve["reported"].iloc[0] == 0  # from the day before the first report
            for step in audits.FUNNEL_STEPS:
                assert list(curve[step]) == list(funnel[step]), (recorded, step)


def test_days_late_count_working_days_where_the_rule_does():
    from datetime import date

    from entrypoints.web.pages.overdue import days_late, deadline_rule
    from workflow.settings import Settings

    settings = Settings(deadline_overrides={"skb-2020:ppk_follow_up": "10 working"})
    plain = Settings()
    due = pd.Timestamp("2020-12-24T17:00Z")  # midnight WIB: the 25th (Christmas, a holiday) is the first day late
    cases = pd.DataFrame({"era": ["skb-2020"], "deadline": ["ppk_follow_up"], "due_at": [due], "days_overdue": [8.0]})
    today = date(2021, 1, 1)  # 25 Dec - 1 Jan: 8 calendar days, fewer working ones (weekend, holidays)
    working = {("skb-2020", "ppk_follow_up"): deadline_rule("skb-2020", "ppk_follow_up", settings)}
    calendar = {("skb-2020", "ppk_follow_up"): deadline_rule("skb-2020", "ppk_follow_up", plain)}
    assert working[("skb-2020", "ppk_follow_up")].working_days
    assert days_late(cases, working, settings, today) == [float(settings.working_days_between(date(2020, 12, 25),
                                                                                                today))]
    assert days_late(cases, working, settings, today)[0] < 8
    assert days_late(cases, calendar, plain, today) == [8.0]
