"""The web console in a real browser: Debian's Chromium, headless, driven by Selenium.

Starts `quiver serve` (the built binary, the real model, the help-center sample) with API keys on a
free loopback port, then drives the console as a user would: the login field, a deep link, search
with filters, every page, keyboard only, at 1280x800 and at a phone width. Fails on any browser
console error. Screenshots go to $QUIVER_ARTIFACTS (default .build/console-screenshots).

Run from the repository root after building:  python3 -m unittest discover -s tests-browser
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ADMIN_KEY = "console-admin-key-0123456789"
READ_KEY = "console-read-key-0123456789"
ARTIFACTS = os.environ.get("QUIVER_ARTIFACTS", os.path.join(ROOT, ".build", "console-screenshots"))
HOSTILE_TITLE = '<img src=x onerror="document.title=\'owned\'">Quarterly <b>cash</b> report'


def call(url: str, method: str, path: str, body=None, key: str = ADMIN_KEY):
    """One API call; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"null")


class ConsoleInBrowserTests(unittest.TestCase):
    server: subprocess.Popen
    url: str
    data: str

    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("QUIVER_BIN", os.path.join(ROOT, ".build", "release", "quiver"))
        model = os.environ.get("QUIVER_MODEL", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
        cls.data = tempfile.mkdtemp(prefix="quiver-console-")
        cls.log = open(os.path.join(cls.data, "server.log"), "w+")
        cls.server = subprocess.Popen(
            [binary, "serve", "--port", "0", "--data", os.path.join(cls.data, "data"), "--model", model,
             "--sample", os.path.join(ROOT, "data", "help-center.jsonl"),
             "--api-key", ADMIN_KEY, "--read-api-key", READ_KEY],
            stdout=cls.log, stderr=subprocess.STDOUT)
        cls.url = cls._wait_until_ready()
        # Queries in the log (one without a good answer) and a hostile title to render, once the
        # verdict is calibrated (the first text query starts it).
        call(cls.url, "POST", "/v1/collections/help-center/query", {"text": "sign in"}, key=READ_KEY)
        deadline = time.time() + 180
        while "verdict" not in call(cls.url, "GET", "/v1/collections/help-center"):
            if time.time() > deadline:
                raise RuntimeError("the verdict was not calibrated within 180 s")
            time.sleep(0.5)
        call(cls.url, "PATCH", "/v1/collections/help-center", {"query_log": True})
        call(cls.url, "PUT", "/v1/collections/help-center/documents",
             {"documents": [{"id": "hostile", "title": HOSTILE_TITLE, "text": "The quarterly cash report lists every payment."}]})
        for text in ["reset my password", "export invoices to csv", "how do I pay the dragon toll on mars",
                     "reset my password"]:
            answer = call(cls.url, "POST", "/v1/collections/help-center/query", {"text": text}, key=READ_KEY)
        # A user says the last answer's first hit helped (feedback needs the query in the log,
        # which the follower writes within its next cycle).
        deadline = time.time() + 60
        while True:
            try:
                call(cls.url, "POST", "/v1/collections/help-center/feedback",
                     {"query_id": answer["query_id"], "id": "kb-a-002", "helpful": True}, key=READ_KEY)
                break
            except urllib.error.HTTPError as error:
                if error.code != 404 or time.time() > deadline:
                    raise
                time.sleep(0.2)
        os.makedirs(ARTIFACTS, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
        cls.browser = webdriver.Chrome(service=Service(driver), options=options)
        cls.browser.set_page_load_timeout(60)

    @classmethod
    def _wait_until_ready(cls) -> str:
        deadline = time.time() + 180
        while time.time() < deadline:
            if cls.server.poll() is not None:
                raise RuntimeError(f"quiver serve exited with {cls.server.returncode}: {cls._log()}")
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", cls._log())
            if match:
                url = f"http://127.0.0.1:{match.group(1)}"
                try:
                    with urllib.request.urlopen(url + "/ready", timeout=5) as response:
                        if response.status == 200:
                            info = call(url, "GET", "/v1/collections/help-center")
                            if info["index"]["pending"] == 0 and info["documents"] > 100:
                                return url
                except (urllib.error.URLError, KeyError):
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"quiver serve did not become ready: {cls._log()}")

    @classmethod
    def _log(cls) -> str:
        cls.log.flush()
        with open(cls.log.name) as log:
            return log.read()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "browser", None):
            cls.browser.quit()
        cls.server.terminate()
        try:
            cls.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.server.kill()
        cls.log.close()
        shutil.rmtree(cls.data, ignore_errors=True)

    # --- helpers ------------------------------------------------------------------------------
    def wait(self, condition, seconds: float = 60, message: str = ""):
        try:
            return WebDriverWait(self.browser, seconds, poll_frequency=0.1).until(lambda _: condition())
        except TimeoutException:
            self.fail(f"timed out: {message}; notice: {self.text('notice')!r}")

    def text(self, element_id: str) -> str:
        return self.browser.find_element(By.ID, element_id).text

    def shot(self, name: str):
        self.browser.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.browser.get_log("browser") if entry["level"] == "SEVERE"]

    def log_in(self, key: str = READ_KEY):
        field = self.browser.find_element(By.ID, "key")
        field.clear()
        field.send_keys(key, Keys.ENTER)
        self.wait(lambda: Select(self.browser.find_element(By.ID, "s-collection")).options, message="collections after the key")

    def open(self, path: str):
        """Opens `path` with the read key already in the tab's session storage."""
        self.browser.get(self.url + "/?setup")
        self.browser.execute_script("sessionStorage.setItem('quiver.console.key', arguments[0])", READ_KEY)
        self.browser.get(self.url + path)

    def result_ids(self) -> list[str]:
        return [e.text for e in self.browser.find_elements(By.CSS_SELECTOR, "#s-results .hit-id")]

    def no_horizontal_scroll(self):
        overflow = self.browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 0, "the page scrolls sideways")

    # --- tests (run in name order; each starts from a fresh page) --------------------------------
    def test_1_login_then_deep_link_search(self):
        b = self.browser
        b.get(self.url + "/")
        self.wait(lambda: "needs an API key" in self.text("notice"), message="the key prompt")
        self.assertEqual(b.switch_to.active_element.get_attribute("id"), "key", "the key field has the focus")
        self.console_errors()  # the refused call (401) is logged by the browser: expected here
        self.log_in()
        self.assertEqual(self.console_errors(), [])

        query = "reset my password"
        link = "/?" + urllib.parse.urlencode({"collection": "help-center", "q": query, "mode": "hybrid"})
        b.get(self.url + link)
        self.wait(lambda: self.result_ids(), message="deep-link results")
        ids = self.result_ids()
        expected = call(self.url, "POST", "/v1/collections/help-center/query", {"text": query, "mode": "hybrid", "k": 10}, key=READ_KEY)
        self.assertEqual(ids, [hit["id"] for hit in expected["results"]])
        self.assertEqual(ids[0], "kb-a-002")
        self.assertEqual(b.find_element(By.ID, "s-q").get_attribute("value"), query)
        self.assertEqual(Select(b.find_element(By.ID, "s-mode")).first_selected_option.text, "hybrid")
        verdict = b.find_element(By.ID, "s-verdict")
        self.assertTrue(verdict.is_displayed())
        self.assertRegex(verdict.text, r"^(Answered|No good answer in this collection) — confidence 0\.\d\d")
        marks = [m.text.lower() for m in b.find_elements(By.CSS_SELECTOR, "#s-results mark")]
        self.assertIn("password", marks)
        badges = b.find_elements(By.CSS_SELECTOR, "#s-results li:first-child .badge")
        self.assertTrue(any(badge.text.startswith("model all-MiniLM-L6-v2") for badge in badges))
        self.shot("search-1280x800")
        self.no_horizontal_scroll()
        self.assertEqual(self.console_errors(), [])

    def test_2_search_with_filter_keyboard_only(self):
        b = self.browser
        self.open("/#search")
        self.wait(lambda: Select(b.find_element(By.ID, "s-collection")).options, message="collections")
        query = b.find_element(By.ID, "s-q")
        query.clear()
        query.send_keys("change my plan")
        # Tab through the form to the filter field, type, and submit with Enter.
        focused = query
        for _ in range(6):
            if focused.get_attribute("id") == "s-filter":
                break
            focused.send_keys(Keys.TAB)
            focused = b.switch_to.active_element
        self.assertEqual(focused.get_attribute("id"), "s-filter", "Tab reaches the filter field")
        focused.send_keys('{"category": "billing-and-plans"}', Keys.ENTER)
        self.wait(lambda: self.result_ids(), message="filtered results")
        expected = call(self.url, "POST", "/v1/collections/help-center/query",
                        {"text": "change my plan", "k": 10, "mode": "hybrid", "filter": {"category": "billing-and-plans"}},
                        key=READ_KEY)
        self.wait(lambda: self.result_ids() == [hit["id"] for hit in expected["results"]], message="the API's filtered ids")
        for hit in expected["results"]:
            document = call(self.url, "GET", "/v1/collections/help-center/documents/" + urllib.parse.quote(hit["id"], safe=""))
            self.assertEqual(document["metadata"]["category"], "billing-and-plans")
        self.assertIn("filter=", b.current_url, "the search is in the address, to share")
        # A bad filter is refused with the server's or the page's message, nothing crashes.
        field = b.find_element(By.ID, "s-filter")
        field.clear()
        field.send_keys("{not json", Keys.ENTER)
        self.wait(lambda: "not JSON" in self.text("notice"), message="the bad-filter message")
        field.clear()
        field.send_keys('{"category": {"$gt": []}}', Keys.ENTER)
        self.wait(lambda: self.text("notice").startswith("invalid_request") or "filter" in self.text("notice"), message="server error")
        # The browser logs the refused call (422) itself; nothing else may be logged.
        self.assertEqual([m for m in self.console_errors() if "status of 422" not in m], [])

    def test_3_hostile_title_is_text(self):
        b = self.browser
        self.open("/?" + urllib.parse.urlencode({"collection": "help-center", "q": "quarterly cash report", "mode": "keyword"}))
        self.wait(lambda: "hostile" in self.result_ids(), message="the hostile document")
        titles = [e.text for e in b.find_elements(By.CSS_SELECTOR, "#s-results .hit-title")]
        self.assertIn(HOSTILE_TITLE, titles, "the title is shown as the text it is")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#s-results img, #s-results b"), [])
        self.assertNotEqual(b.title, "owned")

    def test_4_pages(self):
        b = self.browser
        self.open("/#collections")
        self.wait(lambda: "help-center" in self.text("c-table"), message="the collections table")
        row = b.find_element(By.CSS_SELECTOR, "#c-table tbody tr")
        self.assertIn("all-MiniLM-L6-v2", row.text)
        self.wait(lambda: "current" in self.text("c-generations"), message="generations")
        self.assertIn("verdict_threshold", self.text("c-settings"))
        lookup = b.find_element(By.ID, "c-doc-id")
        lookup.send_keys("kb-a-002", Keys.ENTER)
        self.wait(lambda: "Reset a forgotten password" in self.text("c-doc"), message="the document")
        self.no_horizontal_scroll()
        self.shot("collections-1280x800")

        # Insights: by keyboard, following the nav link.
        link = b.find_element(By.CSS_SELECTOR, 'nav a[data-page="insights"]')
        link.send_keys(Keys.ENTER)
        b.find_element(By.CSS_SELECTOR, "#i-form button").send_keys(Keys.ENTER)
        self.wait(lambda: "reset my password" in self.text("i-top-queries"), message="the most asked queries")
        self.assertIn("× 2", self.text("i-top-queries"))
        self.assertGreater(len(b.find_elements(By.CSS_SELECTOR, "#i-chart svg rect")), 0)
        self.assertRegex(self.text("i-summary"), r"Queries\s*\n?\s*\d+")
        self.wait(lambda: "dragon" in self.text("i-gaps"), message="the low-confidence query in a topic group")
        self.no_horizontal_scroll()
        self.shot("insights-1280x800")

        b.get(self.url + "/#evaluation")
        self.wait(lambda: Select(b.find_element(By.ID, "e-collection")).options, message="collections")
        b.find_element(By.CSS_SELECTOR, "#e-form button[type=submit]").click()
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR, "#e-table tbody tr")) == 3, message="three configurations")
        labels = [row.find_element(By.CSS_SELECTOR, "td").text for row in b.find_elements(By.CSS_SELECTOR, "#e-table tbody tr")]
        self.assertEqual(labels[1:], ["vector", "keyword"])
        self.assertTrue(labels[0].startswith("hybrid"))
        self.assertGreater(len(b.find_elements(By.CSS_SELECTOR, "#e-chart svg rect")), 0)
        self.assertIn("No shadow comparisons yet", self.text("e-shadow-none"))
        # Judged by the feedback in the query log instead.
        b.find_element(By.ID, "e-feedback").send_keys(Keys.SPACE)
        b.find_element(By.CSS_SELECTOR, "#e-form button[type=submit]").send_keys(Keys.ENTER)
        self.wait(lambda: "judged queries from users' feedback" in self.text("e-summary"), message="feedback evaluation")
        self.assertTrue(self.text("e-summary").startswith("1 judged queries"), self.text("e-summary"))
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "#e-table tbody tr")), 3)
        self.no_horizontal_scroll()
        self.shot("evaluation-1280x800")

        b.get(self.url + "/#server")
        self.wait(lambda: "/v1/collections/{collection}/query" in self.text("v-routes"), message="the routes table")
        self.assertIn("all-MiniLM-L6-v2", self.text("v-info"))
        self.wait(lambda: "Forward passes" in self.text("v-batcher"), message="the batcher")
        self.no_horizontal_scroll()
        self.shot("server-1280x800")
        self.assertEqual(self.console_errors(), [])

    def test_5_phone_width(self):
        b = self.browser
        b.set_window_size(390, 844)
        try:
            for page in ["search", "collections", "insights", "evaluation", "server"]:
                self.open("/?" + urllib.parse.urlencode({"collection": "help-center", "q": "invoice"}) + "#" + page)
                self.wait(lambda: b.find_element(By.ID, "page-" + page).is_displayed(), message=page)
                if page == "search":
                    self.wait(lambda: self.result_ids(), message="results at phone width")
                time.sleep(0.3)
                self.no_horizontal_scroll()
                self.shot(page + "-390x844")
        finally:
            b.set_window_size(1280, 800)
        self.assertEqual(self.console_errors(), [])

    def test_6_headers(self):
        with urllib.request.urlopen(self.url + "/", timeout=10) as response:
            policy = response.headers["Content-Security-Policy"]
            self.assertIn("script-src 'self'", policy)
            self.assertIn("frame-ancestors 'none'", policy)
            self.assertEqual(response.headers["X-Frame-Options"], "DENY")
            self.assertIn("<title>Quiver console</title>", response.read().decode())
        # The page is open; the data behind it is not.
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(self.url + "/v1/collections", timeout=10)
        self.assertEqual(refused.exception.code, 401)


if __name__ == "__main__":
    unittest.main()
