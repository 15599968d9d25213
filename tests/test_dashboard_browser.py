"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium through its chromedriver,
against a real `jejak serve` process on a small demo store with planted data. One browser for the module.

Each page: the numbers shown equal the audit API's, the browser's console has no error (a CSP violation would be
one), axe-core (from npm, injected into the page) finds no accessibility violation, and a screenshot is saved
(under pytest's temporary directory, printed). Also: switching language, sorting and filtering with the keyboard,
the CSV of exactly the rows shown, public pages without planted names, signing in through the form."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from entrypoints.auth import tokens
from reference.agencies import agencies
from tests.dashboard_support import PLANTED, make_store, secrets_in
from tests.server_support import ServerProcess, bearer

ROOT = Path(__file__).parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def chrome() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server URL, an auditor's token, planted case id, screenshot directory)."""
    assert AXE.exists(), "axe-core is missing: run `npm ci` in the repository (.ci/run does)"
    home = tmp_path_factory.mktemp("dashboard-browser")
    url = f"sqlite:///{home / 'jejak.db'}"
    planted = make_store(url)
    engine = tokens.engine_for_tokens(url)
    token = tokens.issue(engine, "auditor")[0]
    engine.dispose()
    server = ServerProcess(url, home / "server.log", "--insecure-dev", "--no-access-log").wait_ready()
    shots = home / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots: {shots}")
    try:
        yield server.url, token, planted, shots
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(served):
    driver = chrome()
    yield driver
    driver.quit()


def visit(driver, url: str, shots: Path, name: str) -> None:
    """Open a page; fail on any console error or axe-core violation; save a full-page screenshot."""
    driver.get(url)
    check_page(driver, shots, name)


def check_page(driver, shots: Path, name: str) -> None:
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"{name}: console errors {errors}"
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)));")
    violations = json.loads(result)
    assert violations == [], f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})"
                                                    for v in violations)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": min(metrics["height"], 4000), "scale": 1}})
    import base64

    (shots / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def api(served, name: str, **params) -> pd.DataFrame:
    url, token, _, _ = served
    response = httpx.get(f"{url}/api/v1/audits/{name}", params=params, headers=bearer(token), timeout=30)
    response.raise_for_status()
    return pd.DataFrame(response.json())


def cells(driver, table_id: str) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows]


def press(browser, element, *keys) -> None:
    """Type into an element keys that load another page, and wait until the new page has replaced the old one
    (send_keys returns before the navigation it starts: reading the page at once can meet the old one)."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.send_keys(*keys)
    WebDriverWait(browser, 20).until(lambda _: replaced(old))
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def replaced(element) -> bool:
    """Whether the page that held `element` is gone: selenium's `staleness_of`, plus the other way chromedriver
    says so when asked in the middle of the navigation ("Node with given id does not belong to the document")."""
    try:
        return expected_conditions.staleness_of(element)(None)
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


def test_overview_shows_the_funnel_of_the_api_and_redraws_as_of_a_date(served, browser):
    url, _, _, shots = served
    visit(browser, url + "/", shots, "overview")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "id"
    expected = api(served, "funnel", by="election").set_index("election").loc["pilkada-2020"]
    shown = {row.get_attribute("data-step"): row.find_element(By.CSS_SELECTOR, "td.num").get_attribute("data-value")
             for row in browser.find_elements(By.CSS_SELECTOR, "#funnel tbody tr")}
    assert shown == {step: str(int(expected[step])) for step in shown} and len(shown) == 5
    assert browser.find_elements(By.CSS_SELECTOR, "svg.curve polyline")  # the curve, inline
    field = browser.find_element(By.ID, "as_of")
    browser.execute_script("arguments[0].value = '2020-09-30'", field)  # the date picker's own widget aside
    press(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"), Keys.ENTER)  # as a keyboard user
    assert "30" in browser.find_element(By.ID, "as-of").text
    then = api(served, "funnel", by="election", as_of="2020-09-30").set_index("election").loc["pilkada-2020"]
    reported = browser.find_element(By.CSS_SELECTOR, '#funnel tr[data-step="reported"] td.num')
    assert reported.get_attribute("data-value") == str(int(then["reported"])) != str(int(expected["reported"]))
    check_page(browser, shots, "overview-as-of")


def test_language_switch(served, browser):
    url, _, _, shots = served
    browser.get(url + "/ppk")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Peringkat PPK"
    browser.find_element(By.ID, "lang-en").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == "PPK league table"
    assert browser.current_url.endswith("/ppk")  # back on the same page
    check_page(browser, shots, "league-en")
    browser.find_element(By.ID, "lang-id").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "id"


def league_cells(browser) -> list[list[str]]:
    """The league's rows as text, each PPK by its code: a row heads with the agency's name, then its code."""
    rows = cells(browser, "league")
    for row in rows:
        name, _, code = row[0].rpartition(" ")
        assert name == (agencies().name(code) or ""), row[0]
        row[0] = code
    return rows


def test_league_table_sorts_and_filters_with_the_keyboard_and_equals_the_api(served, browser):
    url, _, _, shots = served
    visit(browser, url + "/ppk", shots, "league")
    expected = api(served, "responsiveness", by="ppk").set_index("ppk")
    rows = league_cells(browser)
    assert len(rows) == len(expected)
    withheld = [row[0] for row in rows if row[1] == "< 3"]  # public: rows of fewer than 3 cases show no figures
    assert PLANTED["agency"] in withheld and (expected.loc[withheld, "received"] < 3).all()
    for ppk, received, followed_up, *_ in rows:
        if ppk not in withheld:
            assert (int(received), int(followed_up)) == tuple(expected.loc[ppk, ["received", "followed_up"]])
    press(browser, browser.find_element(By.ID, "sort-received"), Keys.ENTER)  # the heading is a link: Tab, Enter
    press(browser, browser.find_element(By.ID, "sort-received"), Keys.ENTER)  # a second time: descending
    received = [int(row[1]) for row in league_cells(browser) if row[1].isdigit()]
    assert received == sorted(received, reverse=True) and received[0] == expected["received"].max()
    assert browser.find_element(By.CSS_SELECTOR, "th[aria-sort='descending']").text.startswith("Diterima")
    Select(browser.find_element(By.ID, "filter-province")).select_by_value("prov-ntb")
    press(browser, browser.find_element(By.ID, "apply"), Keys.ENTER)
    by_province = api(served, "responsiveness", by=["province", "ppk"])
    ntb = by_province[by_province["province"] == "prov-ntb"]
    shown = league_cells(browser)
    assert sorted(row[0] for row in shown) == sorted(ntb["ppk"])
    check_page(browser, shots, "league-ntb")
    csv_url = browser.find_element(By.ID, "csv").get_attribute("href")
    csv = pd.read_csv(io.StringIO(httpx.get(csv_url, timeout=30).text), dtype=str)
    assert list(csv["ppk"]) == [row[0] for row in shown]  # exactly the rows shown, in their order
    assert secrets_in(browser.page_source) == []


def test_public_pages_show_no_planted_names_and_pass_the_checks(served, browser):
    url, _, planted, shots = served
    for path, name in [("/overdue", "overdue"), ("/integrity", "integrity"), (f"/ppk/{PLANTED['agency']}", "agency"),
                       ("/signin", "signin")]:
        visit(browser, url + path, shots, name)
        assert secrets_in(browser.page_source) == [] and planted not in browser.page_source, path
    overdue = api(served, "overdue")
    browser.get(url + "/overdue")
    assert browser.find_element(By.ID, "overdue-total").text.startswith(str(len(overdue)))


def test_signing_in_through_the_form_opens_the_case_page(served, browser):
    url, token, planted, shots = served
    browser.get(url + "/signin")
    press(browser, browser.find_element(By.ID, "credential"), token, Keys.ENTER)
    assert "auditor" in browser.find_element(By.CSS_SELECTOR, ".signout").text
    assert browser.get_cookie("jejak_session")["httpOnly"] is True
    assert browser.execute_script("return document.cookie").find("jejak_session") == -1  # scripts cannot read it
    visit(browser, f"{url}/cases/{planted}", shots, "case")
    assert browser.find_element(By.ID, "description").text == PLANTED["description"]  # text, not a script
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # the script in the description never ran
    events = httpx.get(f"{url}/api/v1/cases/{planted}/events", headers=bearer(token), timeout=30).json()
    assert [row[1] for row in cells(browser, "timeline")] == [event["trigger"] for event in events]
    press(browser, browser.find_element(By.CSS_SELECTOR, ".signout button"), Keys.ENTER)
    assert browser.get_cookie("jejak_session") is None
    assert browser.find_element(By.ID, "signin")
