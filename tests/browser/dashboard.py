"""Drives the propensity dashboard in headless Chromium (Python Playwright, the system's
Chromium: no browser download). Run by tests/dashboard.rs::browser_dashboard, which starts
the real server and passes what to expect through DASH_* environment variables.

Checks each page renders its charts with data marks, that the API key entered in the
page is used (401 shown readably before it), that a customer lookup shows the churn
probability and recommendations, and saves one screenshot per page."""

import os
import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

URL = os.environ["DASH_URL"]
KEY = os.environ["DASH_KEY"]
CUSTOMER = os.environ["DASH_CUSTOMER"]
CHURN_PCT = os.environ["DASH_CHURN_PCT"]
ITEM = os.environ["DASH_ITEM"]
SEGMENTS = int(os.environ["DASH_SEGMENTS"])
SHOTS = Path(os.environ["DASH_SCREENSHOTS"])
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

EXPECTED_STATUS = re.compile(r"status of (401|404) ")

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def main() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # The 401 before the key is entered and the 404 of the unknown id are expected;
        # the browser logs each as a failed resource.
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                if m.type == "error" and not EXPECTED_STATUS.search(m.text) else None)
        page.set_default_timeout(15_000)

        # Without a key the server says 401 and the page shows the envelope's code.
        page.goto(URL + "#/model")
        expect(page.locator("#error")).to_contain_text("missing_api_key")
        expect(page.locator("#error")).to_contain_text("401")

        page.fill("#key-input", KEY)
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-state")).to_contain_text("key set")
        expect(page.locator("#error")).to_be_hidden()

        # 1. Model: metadata, metrics with baselines, importance bars, calibration points.
        expect(page.locator("main h1")).to_have_text("Model")
        expect(page.locator("main")).to_contain_text("dash-1")
        expect(page.locator("#metrics")).to_contain_text("churn.oof.auc")
        expect(page.locator("#metrics")).to_contain_text("base_rate")
        bars = page.locator("#importance-chart svg rect.bar").count()
        assert bars > 0, "no feature importance bars"
        points = page.locator("#calibration-chart svg circle.point").count()
        assert points > 0, "no calibration points"
        page.screenshot(path=str(SHOTS / "model.png"))

        # 2. Customers: one bar per segment in both charts, a 10-bin histogram, the table.
        page.click("nav a[data-page=customers]")
        expect(page.locator("#segment-size-chart svg")).to_be_visible()
        for chart in ("#segment-size-chart", "#segment-value-chart"):
            n = page.locator(f"{chart} svg rect.bar").count()
            assert n == SEGMENTS, f"{chart}: {n} bars for {SEGMENTS} segments"
        assert page.locator("#churn-histogram svg rect.bar").count() == 10
        rows = page.locator("#customer-table tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() <= 25
        # Sorting by churn puts the highest churn first.
        page.click("#customer-table th[data-sort=churn]")
        expect(page.locator("#customer-table th.sorted")).to_have_attribute("data-sort", "churn")
        with page.expect_download() as dl:
            page.click("#export-csv")
        csv_path = dl.value.path()
        header = Path(csv_path).read_text().splitlines()[0]
        assert header.startswith("customer_id,segment,churn"), header
        page.screenshot(path=str(SHOTS / "customers.png"), full_page=True)

        # 3. Customer lookup: type the id, see the churn probability and recommendations.
        page.click("nav a[data-page=customer]")
        page.fill("#customer-id", CUSTOMER)
        page.press("#customer-id", "Enter")
        expect(page.locator("#churn-probability")).to_have_text(CHURN_PCT)
        assert page.locator("#recommendations tbody tr").count() > 0, "no recommendations"
        assert page.locator("#next-purchase-chart svg circle.point").count() > 0
        forecast = page.locator("#predicted-purchases").inner_text()
        assert forecast.isdigit(), f"predicted purchases {forecast!r}"
        assert page.locator("#churn-factors tr").count() > 0, "no churn factors"
        assert CUSTOMER in page.url
        page.screenshot(path=str(SHOTS / "customer.png"), full_page=True)

        # An unknown id shows the API's message, not a blank page.
        page.fill("#customer-id", "no-such-customer")
        page.press("#customer-id", "Enter")
        expect(page.locator("#error")).to_contain_text("unknown_customer")

        # 4. Item lookup via its link (linkable hash route).
        page.goto(URL + "#/item/" + ITEM)
        expect(page.locator("#similar-items")).to_be_visible()
        assert page.locator("#similar-chart svg rect.bar").count() > 0
        page.screenshot(path=str(SHOTS / "item.png"), full_page=True)
        ctx.close()
    if errors:
        sys.exit("browser errors:\n" + "\n".join(errors))
    print("dashboard pages OK; screenshots in", SHOTS)


if __name__ == "__main__":
    main()
