"""The board in a real browser: headless Chromium driven by Selenium, on a real `okrstream run`.

Debian's `chromium` and `chromium-driver` packages provide the browser and its driver (`.ci/run`
installs them); without them these tests skip, saying so. Everything the page does is asserted
on the DOM, waiting with a timeout; the one bound on time is the issue's: an event sent to the API
moves the open page's bar within 2 s, without a reload.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.test_okr_end_to_end import period_around

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
MISSING = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the test extras not installed
    MISSING.append("the selenium package")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"needs headless Chromium: {', '.join(MISSING)} missing"
        " (apt-get install chromium chromium-driver; .ci/run installs them)",
    ),
]

KPIS = """
kpis:
  revenue:
    title: Revenue
    unit: EUR
    events: order.placed
    aggregation: sum
    measure: amount
    dimensions: [region]
    health: {at_or_above: 50, grain: day}
  orders: {title: Orders, unit: orders, events: order.placed, aggregation: count}
"""


def okrs(period: dict[str, str]) -> str:
    return f"""
objectives:
  company:
    title: Grow the company
    owner: leadership
    period: {json.dumps(period)}
    key_results:
      sales-delivers:
        title: Sales reaches its objective
        rollup: {{objectives: [sell]}}
  sell:
    title: Sell more
    owner: sales
    period: {json.dumps(period)}
    parent: company
    key_results:
      revenue:
        title: Revenue to 1000 EUR
        metric: {{kpi: revenue, direction: increase_to, start: 0, target: 1000}}
      orders:
        title: Ten orders
        metric: {{kpi: orders, direction: increase_to, start: 0, target: 10}}
      shop-launch:
        title: Launch the new shop
        milestone: {{milestones: [design, build, launch]}}
  dream:
    title: Dream of more
    owner: research
    kind: aspirational
    period: {json.dumps(period)}
    key_results:
      moonshot:
        title: Revenue to a million
        metric: {{kpi: revenue, direction: increase_to, start: 0, target: 1000000}}
"""


def order(amount: float) -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "source": "shop",
        "type": "order.placed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": amount, "items": 1},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def board_worker(settings, make_worker, tmp_path: Path):
    """`okrstream run` with the objectives applied at start, set up for one machine (one partition,
    0.2 s sink batches: README, OKRs), on a fixed port so that a restarted pipeline keeps its URL."""
    kpis, objectives = tmp_path / "kpis.yaml", tmp_path / "okrs.yaml"
    kpis.write_text(KPIS)
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    objectives.write_text(okrs(period_around(today)))
    worker = make_worker(
        settings.model_copy(
            update={
                "kpis_file": kpis,
                "okrs_file": objectives,
                "topic_partitions": 1,
                "batch_max_seconds": 0.2,
                "http_port": free_port(),
            }
        )
    )
    worker.start()
    return worker


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()  # ends chromium and its driver


def api(worker, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {worker.admin_token}"}
    return httpx.request(method, f"{worker.api_url}{path}", headers=headers, timeout=60, **kwargs)


def read_key(worker) -> str:
    answer = api(worker, "POST", "/v1/keys", json={"name": "board viewer", "access": "read"})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def wait(driver: WebDriver, check: Callable[[WebDriver], object], timeout: float = 30.0, what: str = ""):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(check)
    except TimeoutException:
        raise AssertionError(f"not within {timeout} s: {what}\n{driver.current_url}") from None


def sign_in(driver: WebDriver, worker, key: str) -> None:
    driver.get(f"{worker.api_url}/board")
    wait(driver, lambda d: d.current_url.endswith("/board/login"), what="the board sends to its login page")
    field = driver.find_element(By.ID, "key")
    field.clear()
    field.send_keys(key, Keys.ENTER)


def bar(driver: WebDriver, kr: str):
    return driver.find_element(By.CSS_SELECTOR, f'#main [data-kr="{kr}"] [role="progressbar"]')


def bar_at(kr: str, percent: int) -> Callable[[WebDriver], bool]:
    def check(driver: WebDriver) -> bool:
        found = driver.find_elements(By.CSS_SELECTOR, f'#main [data-kr="{kr}"] [role="progressbar"]')
        return bool(found) and found[0].get_attribute("aria-valuenow") == str(percent)

    return check


def live(driver: WebDriver) -> bool:
    return driver.execute_script("return document.body.dataset.live") == "connected"


def history(worker, kr: str) -> list[dict]:
    answer = api(worker, "GET", f"/v1/key-results/{kr}")
    assert answer.status_code == 200, answer.text
    return answer.json()["history"]


def test_the_board_shows_signs_in_moves_live_travels_in_time_and_signs_out(board_worker, browser) -> None:
    worker, driver = board_worker, browser
    key = read_key(worker)

    # a wrong key is refused, and nothing is shown
    sign_in(driver, worker, "oks_0123456789ab_" + "x" * 43)
    error = wait(driver, lambda d: d.find_element(By.ID, "login-error"), what="the login error")
    assert "was not accepted" in error.text and error.get_attribute("role") == "alert"
    assert driver.current_url.endswith("/board/login")
    driver.get(f"{worker.api_url}/board/api/objectives")
    assert "sign in to the board first" in driver.page_source

    # the right one opens the board: the period, then the tree of objectives with their key results
    sign_in(driver, worker, key)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-kr="revenue"]'), what="the key results")
    company = driver.find_element(By.CSS_SELECTOR, '[data-objective="company"]')
    nested = driver.find_element(By.CSS_SELECTOR, '.tree .tree [data-objective="sell"]')  # under company
    assert "Grow the company" in company.text and "leadership" in company.text
    assert "Sell more" in nested.text and "sales" in nested.text and "committed" in nested.text
    assert "aspirational" in driver.find_element(By.CSS_SELECTOR, '[data-objective="dream"]').text
    assert driver.find_element(By.ID, "period-summary").is_displayed()
    assert "Signed in with board viewer (read)" in driver.find_element(By.ID, "who").text
    # scored at apply: 0 of 1000 EUR, a status in words beside its colour, when and why
    scored = '[data-kr="revenue"][data-status]:not([data-status="unscored"])'
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, scored), what="the first score")
    assert bar(driver, "revenue").get_attribute("aria-valuenow") == "0"
    row = driver.find_element(By.CSS_SELECTOR, '[data-kr="revenue"]')
    assert "of target 1,000 EUR" in row.text and "start 0 EUR" in row.text
    assert "scored" in row.text and "its definition applied" in row.text
    assert any(word in row.text for word in ("On track", "At risk", "Off track"))
    assert row.find_element(By.CSS_SELECTOR, ".bar-expected")  # the expected-pace marker

    # live: an event sent to the API moves the open page's bar within 2 s, without a reload
    wait(driver, live, what="the live stream connected")
    driver.execute_script("window.notReloaded = true")
    answer = api(worker, "POST", "/v1/events", json=[order(100.0)])
    assert answer.status_code == 200, answer.text
    wait(driver, bar_at("revenue", 10), timeout=2.0, what="the revenue bar at 10% after the event")
    assert driver.execute_script("return window.notReloaded") is True
    assert "100 EUR" in driver.find_element(By.CSS_SELECTOR, '[data-kr="revenue"]').text
    wait(driver, lambda d: "new events" in d.find_element(By.CSS_SELECTOR, '[data-kr="revenue"]').text)
    first = next(row for row in reversed(history(worker, "revenue")) if row["value"] == 100.0)
    answer = api(worker, "POST", "/v1/events", json=[order(200.0)])
    assert answer.status_code == 200, answer.text
    wait(driver, bar_at("revenue", 30), timeout=2.0, what="the revenue bar at 30% after the second event")
    # the period's score and grade follow its top-level objectives (company and dream, weighted 1:1)
    wait(
        driver,
        lambda d: d.find_element(By.ID, "period-score").get_attribute("data-value"),
        what="a period score",
    )
    grade = driver.find_element(By.ID, "period-grade").text
    assert any(word in grade for word in ("Red", "Yellow", "Green")), grade

    # time travel: the board as it stood when the first event had been scored
    driver.get(f"{worker.api_url}/board#/?as_of={first['as_of']}")
    mark = wait(driver, lambda d: (m := d.find_element(By.ID, "history-mark")).is_displayed() and m)
    assert "Historical view" in mark.text
    wait(driver, bar_at("revenue", 10), what="the earlier score, as of the first event")
    assert "historical" in driver.find_element(By.TAG_NAME, "body").get_attribute("class")
    # ... and back to live, by keyboard alone
    back = driver.find_element(By.ID, "back-to-live")
    back.send_keys(Keys.ENTER)
    wait(driver, lambda d: not d.find_element(By.ID, "history-mark").is_displayed(), what="live again")
    wait(driver, bar_at("revenue", 30), what="the live score again")
    # the slider, by keyboard: Home goes to the period's start, before the objectives were applied
    driver.find_element(By.ID, "time-travel").send_keys(Keys.HOME)
    wait(driver, lambda d: d.find_element(By.ID, "history-mark").is_displayed(), what="the slider's past")
    hint = wait(driver, lambda d: d.find_element(By.ID, "hint"), what="why nothing shows then")
    assert "no objective was in force at" in hint.text
    driver.find_element(By.ID, "time-travel").send_keys(Keys.END)  # and End back to now: live
    wait(driver, lambda d: not d.find_element(By.ID, "history-mark").is_displayed(), what="live by End")
    wait(driver, bar_at("revenue", 30), what="live once more")

    # one key result opened: its score history, its KPI beside earlier periods, and milestones
    link = driver.find_element(By.CSS_SELECTOR, '[data-kr="revenue"] a.kr-title')
    link.send_keys(Keys.ENTER)
    title = wait(driver, lambda d: d.find_element(By.ID, "kr-detail-title"), what="the key result page")
    assert title.text == "Revenue to 1000 EUR"
    chart = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#history-chart svg[role=img]"))
    assert "progress now 30%" in chart.get_attribute("aria-label")
    assert "KPI: Revenue (EUR)" in driver.find_element(By.ID, "kpi-title").text
    assert driver.find_elements(By.CSS_SELECTOR, "svg .line.previous") and driver.find_elements(
        By.CSS_SELECTOR, "svg .line.year-ago"
    )
    # live there too
    answer = api(worker, "POST", "/v1/events", json=[order(100.0)])
    assert answer.status_code == 200, answer.text
    wait(driver, bar_at("revenue", 40), what="the open key result moving")
    driver.get(f"{worker.api_url}/board#/kr/shop-launch")
    checklist = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".checklist"), what="the milestones")
    assert [li.get_attribute("data-milestone") for li in checklist.find_elements(By.TAG_NAME, "li")] == [
        "design",
        "build",
        "launch",
    ]
    assert "not reached yet" in checklist.text

    # every KPI, with its health and its change against earlier periods
    driver.get(f"{worker.api_url}/board#/kpis")
    card = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, '[data-kpi="revenue"]'), what="KPI cards")
    assert "Revenue" in card.text and "400 EUR" in card.text and "vs a year before" in card.text
    assert card.find_element(By.CSS_SELECTOR, "svg.sparkline")
    assert driver.find_element(By.CSS_SELECTOR, '[data-kpi="orders"]')

    # sign out: the board asks for a key again
    driver.get(f"{worker.api_url}/board#/")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-kr="revenue"]'))
    driver.find_element(By.ID, "logout").send_keys(Keys.ENTER)
    wait(driver, lambda d: d.current_url.endswith("/board/login"), what="back on the login page")
    driver.get(f"{worker.api_url}/board")
    wait(driver, lambda d: d.current_url.endswith("/board/login"), what="no board without a session")


def test_a_dropped_connection_shows_a_banner_and_the_page_reconnects(board_worker, browser) -> None:
    worker, driver = board_worker, browser
    sign_in(driver, worker, read_key(worker))
    wait(driver, live, what="the live stream connected")
    banner = driver.find_element(By.ID, "connection")
    assert not banner.is_displayed()
    pipeline = json.loads((Path(worker.settings.data_dir) / "run.json").read_text())["pid"]
    os.kill(int(pipeline), signal.SIGKILL)  # the supervisor starts the pipeline again, on the same socket
    wait(driver, lambda d: banner.is_displayed(), what="the banner after the connection dropped")
    assert "dropped" in banner.text and "reconnecting" in banner.text
    wait(driver, live, timeout=90.0, what="the page reconnected to the restarted pipeline")
    assert not banner.is_displayed()
    # and it is live again
    deadline = time.monotonic() + 60
    while not (run := Path(worker.settings.data_dir) / "run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.admin_token = json.loads(run.read_text())["admin_token"]
    answer = api(worker, "POST", "/v1/events", json=[order(500.0)])
    assert answer.status_code == 200, answer.text
    wait(driver, bar_at("revenue", 50), what="a score after the reconnection")


def test_on_a_phone_the_board_fits_and_works_by_keyboard(board_worker, browser) -> None:
    worker, driver = board_worker, browser
    driver.set_window_size(390, 844)
    sign_in(driver, worker, read_key(worker))
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-kr="revenue"]'), what="the key results")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the page scrolls sideways on a phone"
    # the first Tab reaches the skip link; Tabs reach the key results' links; Enter opens one
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("class") == "skip"
    for _ in range(40):
        focused = driver.switch_to.active_element
        if focused.get_attribute("class") == "kr-title":
            break
        focused.send_keys(Keys.TAB)
    assert focused.get_attribute("class") == "kr-title", "no key result reachable by Tab"
    focused.send_keys(Keys.ENTER)
    wait(
        driver, lambda d: d.find_elements(By.ID, "kr-detail-title"), what="the key result opened by keyboard"
    )
    # every status shown is a word, not a colour alone; progress bars are labelled for screen readers
    driver.get(f"{worker.api_url}/board#/")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-kr="revenue"] .badge'))
    for badge in driver.find_elements(By.CSS_SELECTOR, "#main .badge"):
        assert badge.text.strip(), "a badge without words"
    for progress in driver.find_elements(By.CSS_SELECTOR, '#main [role="progressbar"]'):
        assert progress.get_attribute("aria-labelledby") and progress.get_attribute("aria-valuetext")
