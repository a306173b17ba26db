"""The Python client against a live `quiver serve` (the real model, a throw-away data folder).

Run from the repository root after building:  python3 -m unittest discover -s clients/python/tests
QUIVER_BIN names the binary (default .build/release/quiver); QUIVER_MODEL the model folder.
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

from quiver_client import Client, QuiverError  # noqa: E402

ADMIN_KEY = "test-admin-key-0123456789"
READ_KEY = "test-read-key-0123456789"

ARTICLES = [
    {"id": "pw-reset", "title": "Reset your password",
     "text": "Open Settings, choose Security and press Reset password. We email you a link that works for one hour.",
     "metadata": {"lang": "en", "section": "account"}},
    {"id": "2fa", "title": "Turn on two-factor authentication",
     "text": "Two-factor sign-in asks for a code from your phone app each time you log in from a new device.",
     "metadata": {"lang": "en", "section": "account"}},
    {"id": "refund", "title": "Ask for a refund",
     "text": "Refunds go back to the card you paid with within ten business days of our approval.",
     "metadata": {"lang": "en", "section": "billing"}},
    {"id": "invoice", "title": "Download an invoice",
     "text": "Invoices for every payment are listed under Billing, History; each one downloads as a PDF.",
     "metadata": {"lang": "en", "section": "billing"}},
    {"id": "path/with spaces?&#%", "title": "Export your data",
     "text": "Export every document you stored as a ZIP archive from the Privacy page; large exports are emailed.",
     "metadata": {"lang": "en", "section": "privacy"}},
]


class Server:
    """One `quiver serve` on a free loopback port with a fresh data folder."""

    def __init__(self, *extra: str):
        binary = os.environ.get("QUIVER_BIN", os.path.join(ROOT, ".build", "release", "quiver"))
        model = os.environ.get("QUIVER_MODEL", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
        if not os.path.exists(binary):
            raise RuntimeError(f"no quiver binary at {binary}: build it first (swift build -c release)")
        self.data = tempfile.mkdtemp(prefix="quiver-pyclient-")
        self.log = open(os.path.join(self.data, "server.log"), "w+")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", "0", "--data", os.path.join(self.data, "data"), "--no-sample",
             "--model", model, *extra],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.url = self._wait_for_address()

    def _wait_for_address(self) -> str:
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"quiver serve exited with {self.process.returncode}: {self.read_log()}")
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.read_log())
            if match:
                url = f"http://127.0.0.1:{match.group(1)}"
                if Client(url).ready():
                    return url
            time.sleep(0.1)
        raise RuntimeError(f"quiver serve did not become ready: {self.read_log()}")

    def read_log(self) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


class LiveServerTests(unittest.TestCase):
    server: Server

    @classmethod
    def setUpClass(cls) -> None:
        # A small document limit, to see one document refused on its own inside a split upsert.
        cls.server = Server("--api-key", ADMIN_KEY, "--read-api-key", READ_KEY, "--max-document-bytes", "4096")
        cls.client = Client(cls.server.url, api_key=ADMIN_KEY)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def fresh_collection(self, name: str) -> str:
        try:
            self.client.delete_collection(name)
        except QuiverError as error:
            self.assertEqual(error.status, 404)
        self.client.create_collection(name)
        self.addCleanup(self._drop, name)
        return name

    def _drop(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except QuiverError:
            pass

    def test_collection_lifecycle(self) -> None:
        created = self.client.create_collection("lifecycle", chunk_tokens=0)
        self.assertEqual(created["name"], "lifecycle")
        self.assertIn("lifecycle", [c["name"] for c in self.client.list_collections()])
        self.assertEqual(self.client.collection("lifecycle")["name"], "lifecycle")
        with self.assertRaises(QuiverError) as again:
            self.client.create_collection("lifecycle")
        self.assertEqual((again.exception.status, again.exception.code), (409, "conflict"))
        self.assertTrue(self.client.delete_collection("lifecycle")["deleted"])
        with self.assertRaises(QuiverError) as gone:
            self.client.collection("lifecycle")
        self.assertEqual((gone.exception.status, gone.exception.code), (404, "not_found"))
        self.assertNotIn("lifecycle", [c["name"] for c in self.client.list_collections()])

    def test_upsert_in_several_requests_then_read_query_and_delete(self) -> None:
        kb = self.fresh_collection("kb")
        written = self.client.upsert(kb, ARTICLES, batch_size=2)
        self.assertEqual(written["requests"], 3)
        self.assertEqual((written["inserted"], written["updated"], written["unchanged"]), (5, 0, 0))
        self.assertEqual(written["failed"], 0)
        self.assertTrue(written["searchable"])
        self.assertGreaterEqual(written["index"]["indexed_seq"], written["seq"])

        again = self.client.upsert(kb, ARTICLES)
        self.assertEqual((again["inserted"], again["unchanged"], again["embedded"]), (0, 5, 0))

        hits = self.client.query(kb, "I forgot my password", k=3, min_seq=written["seq"])["results"]
        self.assertEqual(hits[0]["id"], "pw-reset")
        self.assertEqual(len(hits), 3)
        billing = self.client.query(kb, "money back", k=5, filter={"section": "billing"}, mode="vector")["results"]
        self.assertEqual({h["id"] for h in billing}, {"refund", "invoice"})
        self.assertEqual(billing[0]["id"], "refund")
        keyword = self.client.query(kb, "PDF", mode="keyword", k=2)["results"]
        self.assertEqual(keyword[0]["id"], "invoice")
        self.assertIn("keyword", keyword[0]["scores"])

        odd = "path/with spaces?&#%"
        document = self.client.get(kb, odd, include_vector=True)
        self.assertEqual(document["id"], odd)
        self.assertEqual(document["title"], "Export your data")
        self.assertEqual(len(document["vector"]), 384)
        self.assertNotEqual(self.client.query(kb, id=odd, k=1)["results"][0]["id"], odd)

        deleted = self.client.delete(kb, odd)
        self.assertEqual(deleted["deleted"], 1)
        with self.assertRaises(QuiverError) as missing:
            self.client.get(kb, odd)
        self.assertEqual(missing.exception.status, 404)
        self.assertNotIn(odd, [h["id"] for h in self.client.query(kb, "export archive", k=10)["results"]])

    def test_deferred_embedding_is_pending_then_searchable(self) -> None:
        kb = self.fresh_collection("kb")
        written = self.client.upsert(kb, ARTICLES, batch_size=2, defer_embedding=True)
        self.assertEqual((written["inserted"], written["pending"], written["embedded"]), (5, 5, 0))
        self.assertFalse(written["searchable"])
        # The server embeds them in the background.
        deadline = time.monotonic() + 60
        hits: list = []
        while time.monotonic() < deadline:
            hits = self.client.query(kb, "I forgot my password", k=1, mode="vector")["results"]
            if hits:
                break
            time.sleep(0.1)
        self.assertEqual(hits[0]["id"], "pw-reset")

    def test_a_refused_document_is_reported_at_its_place_in_the_whole_list(self) -> None:
        kb = self.fresh_collection("refusals")
        documents = [dict(a) for a in ARTICLES]
        documents.insert(3, {"id": "huge", "title": "Too long", "text": "word " * 2000})
        written = self.client.upsert(kb, documents, batch_size=2)
        self.assertEqual(written["inserted"], 5)
        self.assertEqual(written["failed"], 1)
        self.assertEqual([(r["index"], r["id"]) for r in written["rejected"]], [(3, "huge")])

    def test_a_failed_request_reports_what_committed_before_it(self) -> None:
        kb = self.fresh_collection("partial")
        documents = [dict(a) for a in ARTICLES[:4]] + [{"id": "bad", "text": "x", "metadata": "not an object"}]
        with self.assertRaises(QuiverError) as failure:
            self.client.upsert(kb, documents, batch_size=2)
        self.assertEqual((failure.exception.status, failure.exception.code), (422, "invalid_request"))
        self.assertEqual(failure.exception.partial["inserted"], 4)
        self.assertEqual(self.client.collection(kb)["documents"], 4)

    def test_batch_queries_and_recommendations(self) -> None:
        kb = self.fresh_collection("batch")
        self.client.upsert(kb, ARTICLES)
        vector = self.client.get(kb, "refund", include_vector=True)["vector"]
        answers = self.client.query_batch(kb, [{"text": "second factor code on my phone", "k": 1},
                                               {"vector": np.asarray(vector, dtype=np.float32), "k": 1}])
        self.assertEqual([a["results"][0]["id"] for a in answers], ["2fa", "refund"])
        similar = [h["id"] for h in self.client.recommend(kb, positive=["refund"], k=3)["results"]]
        by_id = [h["id"] for h in self.client.query(kb, id="refund", k=3)["results"]]
        self.assertEqual(similar, by_id)
        self.assertNotIn("refund", similar)
        unlike = [h["id"] for h in self.client.recommend(kb, positive=["refund"], negative=["pw-reset"], k=4)["results"]]
        self.assertEqual(len(unlike), 3)
        self.assertNotIn("pw-reset", unlike)
        self.assertNotIn("refund", unlike)

    def test_vectors_and_export_agree_with_stored_documents(self) -> None:
        kb = self.fresh_collection("vectors")
        self.client.upsert(kb, ARTICLES)
        ids = [a["id"] for a in ARTICLES]
        matrix, found = self.client.vectors(kb, ids[:3] + ["no-such-id"])
        self.assertEqual(found, ids[:3])
        self.assertEqual(matrix.shape, (3, 384))
        self.assertEqual(matrix.dtype, np.float32)
        stored = np.asarray(self.client.get(kb, ids[1], include_vector=True)["vector"], dtype=np.float32)
        np.testing.assert_allclose(matrix[1], stored, rtol=0, atol=1e-6)
        self.assertAlmostEqual(float(np.linalg.norm(matrix[0])), 1.0, places=4)

        pages = list(self.client.export(kb, page_size=2))
        self.assertEqual([len(page_ids) for _, page_ids in pages], [2, 2, 1])
        exported = {i: row for array, page_ids in pages for i, row in zip(page_ids, array)}
        self.assertEqual(sorted(exported), sorted(ids))
        every, every_ids = self.client.vectors(kb, ids)
        for i, row in zip(every_ids, every):
            np.testing.assert_allclose(exported[i], row, rtol=0, atol=1e-6)

    def test_evaluation_report(self) -> None:
        kb = self.fresh_collection("judged")
        self.client.upsert(kb, ARTICLES)
        report = self.client.evaluate(
            kb,
            [{"text": "how do I get my money back", "relevant": ["refund"]},
             {"text": "where are my invoices", "relevant": {"invoice": 2, "refund": 0}}],
            configurations=[{"mode": "vector"}, {"mode": "keyword"}],
            k=3,
        )
        self.assertEqual(report["query_count"], 2)
        self.assertEqual([c["mode"] for c in report["configurations"]], ["vector", "keyword"])
        self.assertEqual(report["configurations"][0]["metrics"]["precision@1"], 1.0)
        self.assertIn("p50", report["configurations"][0]["latency_ms"])
        self.assertEqual(len(report["comparisons"]), 1)

    def test_a_verdict_once_the_collection_is_calibrated(self) -> None:
        kb = self.fresh_collection("verdict")
        topics = ["printer", "invoice", "password", "refund", "laptop", "router", "calendar", "backup",
                  "shipping", "warranty", "account", "keyboard", "monitor", "battery", "license", "webcam",
                  "headset", "firewall", "scanner", "mailbox", "tablet", "storage", "projector", "badge"]
        self.client.upsert(kb, [
            {"id": t, "title": f"Troubleshooting your {t} at the office",
             "text": f"When the {t} stops working, restart it first and then check the {t} cable. "
                     f"Ask the help desk to replace a broken {t} within two business days."}
            for t in topics])
        deadline = time.monotonic() + 60
        answer = self.client.query(kb, "my printer stopped working", verdict_threshold=0)
        while "verdict" not in answer and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = self.client.query(kb, "my printer stopped working", verdict_threshold=0)
        self.assertIn("verdict", answer, "no verdict within 60 s of the first text query")
        verdict = answer["verdict"]
        self.assertEqual((verdict["answered"], verdict["threshold"]), (True, 0))
        self.assertTrue(0 <= verdict["confidence"] <= 1)
        strict = self.client.query(kb, "my printer stopped working", verdict_threshold=1)["verdict"]
        self.assertEqual(strict["answered"], strict["confidence"] >= 1)
        calibration = self.client.collection(kb)["verdict"]
        self.assertGreater(calibration["samples"], 0)
        self.assertEqual(set(calibration["weights"]), {"top1", "top1_minus_mean", "keyword_agreement"})
        self.assertNotIn("verdict", self.client.query(kb, "printer", mode="keyword"))
        for bad in ({"verdict_threshold": 1.5}, {"verdict_threshold": 0.5, "mode": "keyword"}):
            with self.assertRaises(QuiverError) as refused:
                self.client.query(kb, "printer", **bad)
            self.assertEqual((refused.exception.status, refused.exception.code), (422, "invalid_request"))
            self.assertIn("verdict_threshold", refused.exception.message)

    def test_settings_query_log_feedback_and_insights(self) -> None:
        kb = self.fresh_collection("logged")
        self.client.upsert(kb, ARTICLES)
        self.assertNotIn("query_id", self.client.query(kb, "reset my password"))
        settings = self.client.update_settings(kb, query_log=True, verdict_threshold=0.4)["settings"]
        self.assertEqual((settings["query_log"], settings["query_log_text"]), (True, "plain"))
        self.assertAlmostEqual(settings["verdict_threshold"], 0.4, places=6)
        answer = self.client.query(kb, "reset my password")
        query_id = answer["query_id"]
        first = answer["results"][0]["id"]
        self.assertTrue(self.client.feedback(kb, query_id, first, helpful=True)["recorded"])
        reader = Client(self.server.url, api_key=READ_KEY)
        self.assertTrue(reader.feedback(kb, query_id, first, helpful=False)["recorded"])
        with self.assertRaises(QuiverError) as unknown:
            self.client.feedback(kb, "not-a-query", first, helpful=True)
        self.assertEqual((unknown.exception.status, unknown.exception.code), (404, "not_found"))
        with self.assertRaises(TypeError):
            self.client.feedback(kb, query_id, first, helpful="yes")
        report = reader.insights(kb, since=datetime.datetime.now() - datetime.timedelta(hours=1))
        self.assertEqual(report["queries"], 1)
        self.assertEqual(report["top_queries"][0]["text"], "reset my password")
        self.assertEqual(report["feedback"], {"helpful": 0, "unhelpful": 1})
        # Feedback as judged queries: none yet with a helpful document, then one.
        with self.assertRaises(QuiverError) as none_helpful:
            reader.evaluate(kb, judgments="feedback")
        self.assertEqual((none_helpful.exception.status, none_helpful.exception.code), (422, "invalid_request"))
        self.assertTrue(self.client.feedback(kb, query_id, first, helpful=True)["recorded"])
        judged = reader.evaluate(kb, judgments="feedback", configurations=[{"mode": "vector"}, {"mode": "keyword"}])
        self.assertEqual(judged["query_count"], 1)
        self.assertEqual(judged["queries"][0]["text"], "reset my password")
        self.assertEqual(list(judged["queries"][0]["results"][0]["ranks"]), [first])
        with self.assertRaises(ValueError):
            reader.evaluate(kb)
        with self.assertRaises(QuiverError) as refused:
            self.client.update_settings(kb, query_log="yes")
        self.assertEqual((refused.exception.status, refused.exception.code), (422, "invalid_request"))
        with self.assertRaises(QuiverError) as forbidden:
            reader.update_settings(kb, query_log=False)
        self.assertEqual(forbidden.exception.status, 403)
        self.assertEqual(self.client.update_settings(kb, verdict_threshold=None)["settings"]["verdict_threshold"], 0.5)

    def test_errors_carry_the_servers_code_and_message(self) -> None:
        kb = self.fresh_collection("errors")
        with self.assertRaises(QuiverError) as bad:
            self.client.query(kb, "anything", k=0)
        self.assertEqual((bad.exception.status, bad.exception.code), (422, "invalid_request"))
        self.assertIn("k", bad.exception.message)
        with self.assertRaises(ValueError):
            self.client.query(kb, "text", vector=[0.0] * 384)
        with self.assertRaises(QuiverError) as unknown:
            self.client.query("no-such-collection", "anything")
        self.assertEqual(unknown.exception.status, 404)

    def test_the_official_openai_client_embeds_as_the_server_does(self) -> None:
        # scripts/compat/openai_client.py compares the openai client's vectors (float and base64)
        # with the server's own /embed for the same texts; exit status 1 on a mismatch.
        script = os.path.join(ROOT, "scripts", "compat", "openai_client.py")
        run = subprocess.run([sys.executable, script, "--base-url", self.server.url, "--api-key", READ_KEY],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def test_keys(self) -> None:
        kb = self.fresh_collection("keys")
        reader = Client(self.server.url, api_key=READ_KEY)
        with self.assertRaises(QuiverError) as refused:
            reader.upsert(kb, ARTICLES[:1])
        self.assertEqual(refused.exception.status, 403)
        self.assertEqual(reader.query(kb, "refund", k=1)["results"], [])
        with self.assertRaises(QuiverError) as anonymous:
            Client(self.server.url).list_collections()
        self.assertEqual((anonymous.exception.status, anonymous.exception.code), (401, "unauthorized"))


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429, then 503 with Retry-After, then 200; counts the calls."""

    calls = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).calls += 1
        status = {1: 429, 2: 503}.get(type(self).calls, 200)
        body = json.dumps({"error": {"code": "overloaded", "message": "busy"}} if status != 200 else
                          {"collections": []}).encode()
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class RetryTests(unittest.TestCase):
    def test_429_and_503_are_retried_then_answered(self) -> None:
        _Flaky.calls = 0
        server = http.server.HTTPServer(("127.0.0.1", 0), _Flaky)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            self.assertEqual(Client(url, backoff=0.01).list_collections(), [])
            self.assertEqual(_Flaky.calls, 3)
            _Flaky.calls = 0
            with self.assertRaises(QuiverError) as gave_up:
                Client(url, retries=0).list_collections()
            self.assertEqual((gave_up.exception.status, gave_up.exception.code), (429, "overloaded"))
        finally:
            server.shutdown()
            server.server_close()

    def test_an_unreachable_server_is_a_connection_error(self) -> None:
        probe = http.server.HTTPServer(("127.0.0.1", 0), _Flaky)
        port = probe.server_address[1]
        probe.server_close()
        with self.assertRaises(QuiverError) as failure:
            Client(f"http://127.0.0.1:{port}", retries=2, backoff=0.01).list_collections()
        self.assertEqual((failure.exception.status, failure.exception.code), (0, "connection_error"))

    def test_bad_arguments(self) -> None:
        with self.assertRaises(ValueError):
            Client("127.0.0.1:8080")
        with self.assertRaises(ValueError):
            Client("http://127.0.0.1:8080", timeout=0)


if __name__ == "__main__":
    unittest.main()
