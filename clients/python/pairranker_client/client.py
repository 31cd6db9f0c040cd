"""A standard-library client for the pairranker server.

One keep-alive connection per thread, retries with exponential backoff on 429 and 503 (honouring
Retry-After) and on connections that fail before an answer, a timeout per call, and typed errors
carrying the server's message. Every route is a pure function of its body, so a retry never
repeats a side effect.
"""

import email.utils
import gzip
import http.client
import json
import random
import threading
import time
import urllib.parse

from .errors import ConnectionFailed, PairRankerError, error_for

RETRY_STATUSES = (429, 503)


class Client:
    """`Client("http://127.0.0.1:8080", api_key=None, timeout=120.0, retries=5)`.

    `api_key` is sent as `Authorization: Bearer KEY`. `timeout` bounds each attempt (seconds;
    also sent as X-Request-Timeout so the server gives up too). `retries` is how many times a call
    is retried on 429/503 or a failed connection; waits grow from `backoff` seconds, doubling, up
    to `max_backoff`, or as long as the server's Retry-After says (capped by `max_backoff`).
    Request bodies of `compress_min_bytes` or more (64 KiB; None: never) are sent gzip-compressed,
    and answers are asked for and accepted gzip-compressed."""

    def __init__(self, base_url="http://127.0.0.1:8080", api_key=None, timeout=120.0, retries=5,
                 backoff=0.5, max_backoff=30.0, user_agent="pairranker-client/0.1",
                 compress_min_bytes=64 << 10):
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be http:// or https://, not {base_url!r}")
        self.scheme = url.scheme
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        if api_key is None and url.password:
            api_key = urllib.parse.unquote(url.password)
        self.api_key = api_key
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.user_agent = user_agent
        self.compress_min_bytes = compress_min_bytes
        self._local = threading.local()

    # -- routes --------------------------------------------------------------------------------

    def rank(self, input=None, candidates=None, *, inputs=None, instruction=None, instructions=None, **fields):
        """POST /rank. Single form: `rank(input, candidates)`; list form:
        `rank(inputs=[...], candidates=[[...], ...])`. Extra fields (mode, ref_mode, seed,
        return_scores, source_max_length, ...) pass through. Returns the response object."""
        body = _form(input=input, inputs=inputs, instruction=instruction, instructions=instructions)
        body["candidates"] = candidates
        body.update(fields)
        return self.post("/rank", body)

    def compare(self, input=None, candidate_a=None, candidate_b=None, *, inputs=None, candidates_a=None,
                candidates_b=None, instruction=None, instructions=None, mode=None, **fields):
        """POST /compare, single form or list form (`inputs`, `candidates_a`, `candidates_b`)."""
        body = _form(input=input, inputs=inputs, instruction=instruction, instructions=instructions)
        if inputs is None:
            body.update({"candidate_a": candidate_a, "candidate_b": candidate_b})
        else:
            body.update({"candidates_a": candidates_a, "candidates_b": candidates_b})
        if mode is not None:
            body["mode"] = mode
        body.update(fields)
        return self.post("/compare", body)

    def rerank(self, query, documents, top_n=None, *, return_documents=None, raw_scores=None, path="/rerank", **fields):
        """POST /rerank (Cohere v1 / Jina shape; `path="/v2/rerank"` for Cohere v2)."""
        body = {"query": query, "documents": list(documents)}
        if top_n is not None:
            body["top_n"] = top_n
        if return_documents is not None:
            body["return_documents"] = return_documents
        if raw_scores is not None:
            body["raw_scores"] = raw_scores
        body.update(fields)
        return self.post(path, body)

    def get_reward(self, query, labels, prompts=None, **fields):
        """POST /get_reward (OpenRLHF's remote reward model). Returns the list of rewards; the
        whole response (with `scores`) is `post("/get_reward", ...)`."""
        body = {"query": list(query), "labels": list(labels)}
        if prompts is not None:
            body["prompts"] = list(prompts)
        body.update(fields)
        return self.post("/get_reward", body)["rewards"]

    def tokenize(self, text=None, **fields):
        body = {} if text is None else {"text": text}
        body.update(fields)
        return self.post("/tokenize", body)

    def health(self):
        return self.request("GET", "/health")

    def ready(self):
        """True when the server answers /ready with 200 (False on 503; raises on anything else)."""
        try:
            self.request("GET", "/ready", retry=False)
            return True
        except PairRankerError as e:
            if e.status == 503:
                return False
            raise

    def info(self):
        return self.request("GET", "/info")

    # -- transport -----------------------------------------------------------------------------

    def post(self, path, body):
        return self.request("POST", path, {k: v for k, v in body.items() if v is not None})

    def request(self, method, path, body=None, retry=True):
        """One call with keep-alive, retries and typed errors; returns the decoded JSON (or text)."""
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"User-Agent": self.user_agent, "Accept": "application/json",
                   "Accept-Encoding": "gzip", "X-Request-Timeout": f"{self.timeout:g}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
            if self.compress_min_bytes is not None and len(payload) >= self.compress_min_bytes:
                payload = gzip.compress(payload, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempts = (self.retries if retry else 0) + 1
        last = None
        for attempt in range(attempts):
            try:
                status, reply_headers, data = self._send(method, self.prefix + path, payload, headers)
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                last = ConnectionFailed(f"{method} {path}: {e.__class__.__name__}: {e}")
                if attempt + 1 < attempts:
                    time.sleep(self._wait(attempt, None))
                    continue
                raise last from e
            if 200 <= status < 300:
                return _decode(data, reply_headers)
            err = _error(status, reply_headers, data)
            if status in RETRY_STATUSES and attempt + 1 < attempts:
                last = err
                time.sleep(self._wait(attempt, reply_headers.get("retry-after")))
                continue
            raise err
        raise last  # unreachable: the loop either returns or raises

    def close(self):
        self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _send(self, method, path, payload, headers):
        conn = self._connection()
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        reply_headers = {k.lower(): v for k, v in resp.getheaders()}
        if reply_headers.get("content-encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        if reply_headers.get("connection", "").lower() == "close":
            self._drop()
        return resp.status, reply_headers, data

    def _wait(self, attempt, retry_after):
        wait = min(self.max_backoff, self.backoff * (2 ** attempt))
        wait *= 0.5 + random.random() / 2  # jitter: clients retrying together spread out
        if retry_after:
            seconds = _retry_after_seconds(retry_after)
            if seconds is not None:
                wait = max(wait, min(self.max_backoff, seconds))
        return wait


def _form(input, inputs, instruction, instructions):
    if inputs is not None:
        return {"inputs": list(inputs), "instructions": instructions}
    return {"input": input, "instruction": instruction}


def _decode(data, headers):
    if headers.get("content-type", "").startswith("application/json"):
        return json.loads(data.decode("utf-8"))
    return data.decode("utf-8", errors="replace")


def _error(status, headers, data):
    rid = headers.get("x-request-id")
    text = data.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            return error_for(status, str(err.get("message", text)), err.get("type"), rid, body)
        return error_for(status, text, None, rid, body)
    except ValueError:
        return error_for(status, text.strip() or f"HTTP {status}", None, rid, None)


def _retry_after_seconds(value):
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None
