"""A small, dependency-light client for Quiver's HTTP API.

Only the standard library speaks HTTP here (``urllib``); NumPy is needed for the vector
helpers (:meth:`Client.vectors`, :meth:`Client.export`) and imported when they are first used.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Client", "QuiverError"]

# Statuses worth another try: the server is shedding load (429) or not ready / behind (503).
_RETRY_STATUSES = frozenset({429, 503})


class QuiverError(Exception):
    """Any failed call: an error answer from the server, or no answer at all.

    Attributes:
        status: The HTTP status (0 when the server could not be reached).
        code: The server's error code (``invalid_request``, ``not_found``, ``overloaded``, …), or
            ``connection_error`` / ``invalid_response`` for failures on this side.
        message: The server's message.
        body: The parsed error body when there was one.
        partial: For :meth:`Client.upsert` split into several requests, the combined result of the
            requests that did commit before this one failed (``None`` otherwise), so a caller knows
            exactly what was written.
    """

    def __init__(self, status: int, code: str, message: str, body: Any = None, partial: Any = None):
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.partial = partial


class _Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise QuiverError(self.status, "invalid_response", f"the server's answer is not JSON: {error}")


class Client:
    """A Quiver server at ``base_url``.

    Every method answers the server's JSON as plain dicts and lists, and raises
    :class:`QuiverError` on any failure. Calls the server refuses for load (429) or readiness
    (503) are retried ``retries`` times with exponential back-off and jitter (honouring a
    ``Retry-After`` header); so is a call whose connection could not be opened. A call that
    reached the server and failed otherwise is not retried.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080``.
        api_key: Sent as ``Authorization: Bearer KEY`` (writes need an admin key).
        timeout: Seconds per HTTP request.
        retries: Extra attempts on 429, 503 and refused connections.
        backoff: First back-off in seconds; doubled per attempt, capped at 10 s.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.2,
    ):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._limits: Optional[Dict[str, Any]] = None
        # No proxies: a search server is usually next door, and a proxy set for the internet
        # must not see its API key.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ---------------------------------------------------------------------------------------
    # Server

    def info(self) -> Dict[str, Any]:
        """``GET /v1/info``: the model, limits, batching and kernels."""
        return self._call("GET", "/v1/info").json()

    def health(self) -> bool:
        """True when ``GET /health`` answers 200."""
        try:
            return self._call("GET", "/health", retry=False).status == 200
        except QuiverError:
            return False

    def ready(self) -> bool:
        """True when ``GET /ready`` answers 200 (the model is loaded and collections are open)."""
        try:
            return self._call("GET", "/ready", retry=False).status == 200
        except QuiverError:
            return False

    def limits(self) -> Dict[str, Any]:
        """The server's ``limits`` from :meth:`info`, read once and kept."""
        if self._limits is None:
            self._limits = dict(self.info().get("limits", {}))
        return self._limits

    # ---------------------------------------------------------------------------------------
    # Collections

    def create_collection(self, name: str, **options: Any) -> Dict[str, Any]:
        """``POST /v1/collections``. Options are the request's other fields: ``model``,
        ``dimensions``, ``distance``, ``hnsw``, ``chunk_tokens``, ``chunk_overlap``."""
        return self._call("POST", "/v1/collections", {"name": name, **options}).json()

    def list_collections(self) -> List[Dict[str, Any]]:
        """Every collection, sorted by name."""
        return self._call("GET", "/v1/collections").json()["collections"]

    def collection(self, name: str) -> Dict[str, Any]:
        """One collection's settings, counts, generations and index freshness."""
        return self._call("GET", _collection_path(name)).json()

    def delete_collection(self, name: str) -> Dict[str, Any]:
        """Delete a collection and everything in it."""
        return self._call("DELETE", _collection_path(name)).json()

    def update_settings(self, name: str, **settings: Any) -> Dict[str, Any]:
        """``PATCH /v1/collections/{name}``: change the settings an owner may change at any time
        (``verdict_threshold``, ``query_log``, ``query_log_text``, ``query_log_retention_days``,
        ``query_log_max_queries``); ``None`` returns one to its default. Returns the collection,
        its ``settings`` as stored."""
        if not settings:
            raise ValueError("name at least one setting")
        return self._call("PATCH", _collection_path(name), settings).json()

    # ---------------------------------------------------------------------------------------
    # Documents

    def upsert(
        self,
        collection: str,
        documents: Iterable[Mapping[str, Any]],
        batch_size: Optional[int] = None,
        defer_embedding: bool = False,
    ) -> Dict[str, Any]:
        """Insert or update documents, in as many requests as the server's limits need.

        With ``defer_embedding`` the server stores the documents without embedding them and
        answers at once (counted in ``pending``); it embeds them in the background, or
        ``quiver worker`` processes sharing its store do.

        Requests hold at most ``batch_size`` documents (default: the server's
        ``max_batch_inputs``) and stay under its ``max_body_bytes``. Each request is one
        transaction on the server; the answer is their results combined: counts summed,
        ``rejected`` indexed into ``documents`` as given, ``seq`` the highest one committed (pass it
        as ``min_seq`` to read your writes on another replica). Upserts are idempotent (unchanged
        documents are skipped by content), so retried requests write nothing twice.

        If a request fails, the :class:`QuiverError` raised carries in ``partial`` what the
        requests before it committed; nothing after it was sent.
        """
        limits = self.limits()
        most = int(limits.get("max_batch_inputs", 256))
        if batch_size is not None:
            if batch_size < 1:
                raise ValueError("batch_size must be at least 1")
            most = min(most, batch_size)
        # Leave room for the envelope and for the server's own accounting of the body.
        budget = max(1024, int(int(limits.get("max_body_bytes", 2 << 20)) * 0.95) - 64)
        path = _collection_path(collection) + "/documents"
        combined: Optional[Dict[str, Any]] = None
        batch: List[bytes] = []
        batch_bytes = 0
        first_index = 0

        def send() -> None:
            nonlocal combined, batch, batch_bytes, first_index
            head = b'{"defer_embedding":true,"documents":[' if defer_embedding else b'{"documents":['
            body = head + b",".join(batch) + b"]}"
            try:
                result = self._call("PUT", path, raw_body=body).json()
            except QuiverError as error:
                error.partial = combined
                raise
            combined = _combine_writes(combined, result, first_index)
            first_index += len(batch)
            batch, batch_bytes = [], 0

        for document in documents:
            encoded = json.dumps(document, ensure_ascii=False, allow_nan=False, default=_jsonable).encode("utf-8")
            if batch and (len(batch) >= most or batch_bytes + len(encoded) + 1 > budget):
                send()
            batch.append(encoded)
            batch_bytes += len(encoded) + 1
        if batch:
            send()
        if combined is None:
            raise ValueError("upsert needs at least one document")
        return combined

    def get(self, collection: str, id: str, include_vector: bool = False) -> Dict[str, Any]:
        """One stored document with its freshness (``include_vector`` adds its vector)."""
        query = {"include": "vector"} if include_vector else None
        return self._call("GET", _document_path(collection, id), query=query).json()

    def delete(self, collection: str, id: str) -> Dict[str, Any]:
        """Delete one document; the answer's ``seq`` is the store state that no longer has it."""
        return self._call("DELETE", _document_path(collection, id)).json()

    # ---------------------------------------------------------------------------------------
    # Search

    def query(
        self,
        collection: str,
        text: Optional[str] = None,
        *,
        vector: Optional[Sequence[float]] = None,
        id: Optional[str] = None,
        k: int = 10,
        mode: Optional[str] = None,
        filter: Optional[Mapping[str, Any]] = None,
        min_seq: Optional[int] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """The ``k`` best documents for a ``text``, a ``vector`` or a stored document's ``id``.

        ``mode`` is ``vector``, ``keyword`` or ``hybrid`` (the server's default for text is
        hybrid). Any other request field (``fusion``, ``include``, ``ef``, ``with_payload``,
        ``generation``, ``wait_ms``, ``max_staleness_ms``, ``verdict_threshold``) passes through as
        a keyword argument. A text query in vector or hybrid mode carries a ``verdict`` (whether a
        good answer was found) once the collection is calibrated.
        """
        body = _query_body(text, vector, id, k, mode, filter, min_seq, fields)
        return self._call("POST", _collection_path(collection) + "/query", body).json()

    def query_batch(self, collection: str, queries: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        """Several query requests (dicts with the fields of :meth:`query`) in one call; one
        response per query, in order. Split into requests of at most ``max_batch_inputs``."""
        most = int(self.limits().get("max_batch_inputs", 256))
        results: List[Dict[str, Any]] = []
        for start in range(0, len(queries), most):
            chunk = [_vector_as_list(dict(q)) for q in queries[start : start + most]]
            answer = self._call("POST", _collection_path(collection) + "/query/batch", {"queries": chunk})
            results.extend(answer.json()["results"])
        return results

    def recommend(
        self,
        collection: str,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        k: int = 10,
        filter: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """More like the ``positive`` documents, less like the ``negative`` ones."""
        body: Dict[str, Any] = {"positive": list(positive), "k": k, **fields}
        if negative:
            body["negative"] = list(negative)
        if filter is not None:
            body["filter"] = dict(filter)
        return self._call("POST", _collection_path(collection) + "/recommend", body).json()

    def evaluate(
        self,
        collection: str,
        queries: Optional[Sequence[Mapping[str, Any]]] = None,
        configurations: Optional[Sequence[Mapping[str, Any]]] = None,
        k: Optional[int] = None,
        judgments: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Ranking quality on judged queries (``{"text", "relevant"}`` each), per configuration
        (``{"mode": ..., "fusion": ..., "generation": ...}``; default vector mode): the server's
        evaluation report with nDCG@10, recall@k, MRR@10, precision@1 and latencies.

        ``judgments="feedback"`` instead of ``queries``: the judged queries are users' feedback in
        the collection's query log (the server answers 422 when there is none)."""
        if (queries is None) == (judgments is None):
            raise ValueError("give queries or judgments (one of them)")
        body: Dict[str, Any] = (
            {"queries": [dict(q) for q in queries]} if queries is not None else {"judgments": judgments})
        if configurations is not None:
            body["configurations"] = [dict(c) for c in configurations]
        if k is not None:
            body["k"] = k
        return self._call("POST", _collection_path(collection) + "/evaluate", body).json()

    def feedback(self, collection: str, query_id: str, id: str, helpful: bool) -> Dict[str, Any]:
        """A user's judgment of document ``id`` for the logged query ``query_id`` (the
        ``query_id`` of a query's answer, present when the collection's query log is on)."""
        if not isinstance(helpful, bool):
            raise TypeError("helpful must be True or False")
        body = {"query_id": query_id, "id": id, "helpful": helpful}
        return self._call("POST", _collection_path(collection) + "/feedback", body).json()

    def insights(self, collection: str, since: Optional[Any] = None) -> Dict[str, Any]:
        """The report of the collection's query log since ``since`` (seconds since 1970, an ISO
        8601 string or a ``datetime``; default seven days ago): unanswered questions by topic,
        the most asked, the most returned documents, counts over time."""
        query = None
        if since is not None:
            if hasattr(since, "timestamp"):
                since = since.timestamp()
            query = {"since": str(since)}
        return self._call("GET", _collection_path(collection) + "/insights", query=query).json()

    # ---------------------------------------------------------------------------------------
    # Vectors

    def vectors(self, collection: str, ids: Sequence[str]) -> Tuple[Any, List[str]]:
        """Stored vectors by id: a ``float32`` NumPy array of shape ``(found, dimensions)`` and the
        ids found, in request order (ids without a document are left out)."""
        np = _numpy()
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of ids, not one string")
        most = int(self.limits().get("max_vector_ids", 10000))
        rows: List[Any] = []
        found: List[str] = []
        for start in range(0, len(ids), most):
            answer = self._call(
                "POST", _collection_path(collection) + "/vectors", {"ids": list(ids[start : start + most])}
            ).json()
            for line in answer["vectors"]:
                found.append(line["id"])
                rows.append(line["vector"])
        if not rows:
            return np.zeros((0, 0), dtype=np.float32), found
        return np.asarray(rows, dtype=np.float32), found

    def export(self, collection: str, page_size: int = 1000) -> Iterator[Tuple[Any, List[str]]]:
        """Every vector of the serving generation, page by page: ``(array, ids)`` with a ``float32``
        array of shape ``(n, dimensions)``. Pages come in a stable order and follow the server's
        cursor, so a long export sees each document once."""
        np = _numpy()
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        limit = min(page_size, int(self.limits().get("max_vector_ids", 10000)))
        cursor: Optional[str] = None
        path = _collection_path(collection) + "/vectors"
        while True:
            query = {"format": "f32", "limit": str(limit)}
            if cursor is not None:
                query["cursor"] = cursor
            try:
                page = self._call("GET", path, query=query)
            except QuiverError as error:
                # A page whose ids would not fit in one header: ask for fewer rows.
                if error.status == 413 and limit > 1:
                    limit = max(1, limit // 4)
                    continue
                raise
            count = int(page.headers.get("Quiver-Count", "0"))
            if count > 0:
                dimensions = int(page.headers.get("Quiver-Dimensions", "0"))
                ids = [urllib.parse.unquote(part) for part in page.headers.get("Quiver-Ids", "").split(",")]
                if dimensions <= 0 or len(ids) != count or len(page.body) != count * dimensions * 4:
                    raise QuiverError(
                        page.status,
                        "invalid_response",
                        f"export page of {count} rows has {len(ids)} ids and {len(page.body)} bytes "
                        f"for {dimensions} dimensions",
                    )
                yield np.frombuffer(page.body, dtype="<f4").reshape(count, dimensions), ids
            cursor = page.headers.get("Quiver-Next-Cursor")
            if not cursor:
                return

    # ---------------------------------------------------------------------------------------
    # HTTP

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: Optional[bytes] = None,
        query: Optional[Mapping[str, str]] = None,
        retry: bool = True,
    ) -> _Response:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = raw_body
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, allow_nan=False, default=_jsonable).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            delay: Optional[float] = None
            try:
                with self._opener.open(request, timeout=self.timeout) as answer:
                    return _Response(answer.status, answer.headers, answer.read())
            except urllib.error.HTTPError as answer:
                raw = answer.read()
                if not (retry and answer.code in _RETRY_STATUSES and attempt < self.retries):
                    raise _error_from(answer.code, raw) from None
                delay = _retry_after(answer.headers.get("Retry-After"))
            except urllib.error.URLError as failure:
                # Only a connection that was never opened is safe to try again for every call.
                refused = isinstance(failure.reason, ConnectionRefusedError)
                if not (retry and refused and attempt < self.retries):
                    raise QuiverError(0, "connection_error", f"{method} {url}: {failure.reason}") from None
            except (TimeoutError, OSError) as failure:
                raise QuiverError(0, "connection_error", f"{method} {url}: {failure}") from None
            if delay is None:
                delay = min(10.0, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)
            time.sleep(delay)
            attempt += 1


def _collection_path(name: str) -> str:
    return "/v1/collections/" + urllib.parse.quote(name, safe="")


def _document_path(collection: str, id: str) -> str:
    return _collection_path(collection) + "/documents/" + urllib.parse.quote(id, safe="")


def _vector_as_list(query: Dict[str, Any]) -> Dict[str, Any]:
    vector = query.get("vector")
    if vector is not None and not isinstance(vector, list):
        query["vector"] = [float(x) for x in vector]
    return query


def _query_body(
    text: Optional[str],
    vector: Optional[Sequence[float]],
    id: Optional[str],
    k: int,
    mode: Optional[str],
    filter: Optional[Mapping[str, Any]],
    min_seq: Optional[int],
    fields: Mapping[str, Any],
) -> Dict[str, Any]:
    given = [name for name, value in (("text", text), ("vector", vector), ("id", id)) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of text, vector or id")
    body: Dict[str, Any] = {"k": k, **fields}
    if text is not None:
        body["text"] = text
    if vector is not None:
        body["vector"] = [float(x) for x in vector]
    if id is not None:
        body["id"] = id
    if mode is not None:
        body["mode"] = mode
    if filter is not None:
        body["filter"] = dict(filter)
    if min_seq is not None:
        body["min_seq"] = min_seq
    return body


def _combine_writes(combined: Optional[Dict[str, Any]], result: Dict[str, Any], offset: int) -> Dict[str, Any]:
    rejected = [dict(entry, index=entry["index"] + offset) for entry in result.get("rejected", [])]
    if combined is None:
        merged = dict(result)
        merged["rejected"] = rejected
        merged["requests"] = 1
        return merged
    for key in ("inserted", "updated", "unchanged", "deleted", "failed", "embedded", "pending"):
        combined[key] = combined.get(key, 0) + result.get(key, 0)
    combined["rejected"].extend(rejected)
    combined["seq"] = max(combined.get("seq", 0), result.get("seq", 0))
    combined["generation"] = result.get("generation", combined.get("generation"))
    combined["searchable"] = bool(combined.get("searchable")) and bool(result.get("searchable"))
    combined["index"] = result.get("index", combined.get("index"))
    combined["requests"] += 1
    return combined


def _error_from(status: int, raw: bytes) -> QuiverError:
    try:
        body = json.loads(raw)
        error = body["error"]
        return QuiverError(status, str(error["code"]), str(error["message"]), body)
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()[:500]
        return QuiverError(status, "http_error", text or f"HTTP {status}")


def _jsonable(value: Any) -> Any:
    """NumPy arrays and scalars (vectors, scores) as JSON lists and numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        return min(30.0, max(0.0, float(value)))
    except ValueError:
        return None


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("quiver_client's vector helpers need NumPy: pip install numpy") from None
    return numpy
