"""The client against a live pairranker server (fixture model) and against a scripted fake server
(retries, Retry-After, keep-alive). Run by scripts/test.sh after `pip install ./clients/python`:
  PAIRRANKER_BIN=.build/debug/pairranker PAIRRANKER_MODEL=Tests/Fixtures/tiny-pair-ranker \
    python -m unittest discover -s clients/python/tests -v
"""

import gzip
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

import pairranker_client as pc

KEY = "s3cret-key"
server = None
port = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def setUpModule():
    global server, port
    port = free_port()
    server = subprocess.Popen([os.environ["PAIRRANKER_BIN"], "serve", "--model", os.environ["PAIRRANKER_MODEL"],
                               "--port", str(port), "--api-key", KEY],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("pairranker serve did not become ready in 60 s")


def tearDownModule():
    server.terminate()
    server.wait(timeout=60)


def client(**kw):
    return pc.Client(f"http://127.0.0.1:{port}", api_key=KEY, **kw)


class LiveServer(unittest.TestCase):
    def test_rank_single_and_list_forms_agree(self):
        c = client()
        one = c.rank("What is 2+2?", ["4", "5", "four"])
        self.assertEqual(len(one["ranks"]), 3)
        # Forwards computed plus pairs answered from the server's score cache (other tests may
        # have scored some of these pairs already).
        self.assertEqual(one["usage"]["pairs"] + one["usage"].get("cached", 0), 6)
        many = c.rank(inputs=["What is 2+2?", "Capital of France?"], candidates=[["4", "5", "four"], ["Paris", "Lyon"]])
        self.assertEqual(many["scores"][0], one["scores"])
        self.assertEqual(len(many["ranks"][1]), 2)

    def test_compare_default_mode_is_twice_the_two_candidate_rank_score(self):
        c = client()
        cmp = c.compare("What is 2+2?", "4", "5")
        rank = c.rank("What is 2+2?", ["4", "5"])
        self.assertEqual(cmp["logit"], 2 * rank["scores"][0])
        self.assertEqual(cmp["a_better"], cmp["logit"] > 0)
        listed = c.compare(inputs=["What is 2+2?"], candidates_a=["4"], candidates_b=["5"], mode="[A,B]")
        self.assertEqual(len(listed["logits"]), 1)

    def test_rerank_and_get_reward(self):
        c = client()
        r = c.rerank("What is 2+2?", ["5", "4", "four", "22"], top_n=2)
        self.assertEqual(len(r["results"]), 2)
        scores = [x["relevance_score"] for x in r["results"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        rewards = c.get_reward(["2+2? 4", "2+2? 5"], labels=["4", "4"], prompts=["2+2?", "2+2?"])
        self.assertEqual(len(rewards), 2)
        self.assertTrue(all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rewards))

    def test_judge_matches_ranks_and_is_order_free(self):
        judge = pc.PairRankerJudge(client(), batch_size=2)
        prompts = ["What is 2+2?", "Capital of France?", "Say hi", "Colour of the sky?", "1+1?"]
        completions = [["4", "5"], ["Lyon", "Paris"], ["hi", "bye"], ["blue", "green"], ["2", "11"]]
        plain = judge.judge(prompts, completions, shuffle_order=False)
        self.assertEqual(set(plain) <= {0, 1}, True)
        for _ in range(3):
            self.assertEqual(judge.judge(prompts, completions, shuffle_order=True), plain)
        probs = judge.judge(prompts, completions, shuffle_order=False, return_scores=True)
        shuffled = judge.judge(prompts, completions, shuffle_order=True, return_scores=True)
        self.assertEqual(probs, shuffled)
        for p, choice in zip(probs, plain):
            self.assertTrue(0.0 < p < 1.0)
            self.assertEqual(choice, 0 if p >= 0.5 else 1)
        # The same answer as /compare's a_better, prompt by prompt.
        for prompt, (a, b), choice in zip(prompts, completions, plain):
            logit = client().compare(prompt, a, b)["logit"]
            self.assertEqual(choice, 0 if logit >= 0 else 1, prompt)
        with self.assertRaises(ValueError):
            judge.judge(["x"], [["a", "b", "c"]])

    def test_typed_errors_carry_the_server_message_and_request_id(self):
        c = client()
        with self.assertRaises(pc.ValidationFailed) as e:
            c.rank("q", [])
        self.assertEqual(e.exception.status, 422)
        self.assertIn("candidates", e.exception.message)
        self.assertTrue(e.exception.request_id)
        with self.assertRaises(pc.Unauthorized):
            pc.Client(f"http://127.0.0.1:{port}", api_key="wrong", retries=0).rank("q", ["a", "b"])
        with self.assertRaises(pc.NotFound):
            c.request("POST", "/nope", {})
        with self.assertRaises(pc.BadRequest):
            c.request("POST", "/rank", ["not", "an", "object"])

    def test_gzip_bodies_and_answers(self):
        # A large body goes out gzip-compressed and the answer comes back compressed; both are
        # what the uncompressed exchange gives.
        candidates = [f"candidate {i}: " + "words " * 2000 for i in range(4)]
        plain = client(compress_min_bytes=None).rank("which?", candidates)
        z = client(compress_min_bytes=1).rank("which?", candidates)
        self.assertEqual(plain["ranks"], z["ranks"])
        self.assertEqual(plain["scores"], z["scores"])
        body = json.dumps({"text": "hello " * 500}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/tokenize", data=gzip.compress(body), method="POST",
                                     headers={"Content-Type": "application/json", "Content-Encoding": "gzip",
                                              "Accept-Encoding": "gzip", "X-API-Key": KEY})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.headers["Content-Encoding"], "gzip")
            reply = json.loads(gzip.decompress(r.read()))
        self.assertEqual(len(reply["ids"]), len(client().tokenize("hello " * 500)["ids"]))

    def test_api_key_in_the_url_password(self):
        c = pc.Client(f"http://:{KEY}@127.0.0.1:{port}")
        self.assertEqual(len(c.rank("q", ["a", "b"])["ranks"]), 2)
        self.assertTrue(c.ready())

    def test_threads_share_a_client(self):
        c = client()
        want = c.rank("What is 2+2?", ["4", "5"])["scores"]
        got, errors = [], []

        def work():
            try:
                for _ in range(5):
                    got.append(c.rank("What is 2+2?", ["4", "5"])["scores"])
            except Exception as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(got, [want] * 20)


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from a script: a list of (status, headers, body); counts connections."""
    protocol_version = "HTTP/1.1"
    script = []
    seen = []
    connections = 0

    def setup(self):
        super().setup()
        type(self).connections += 1

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        type(self).seen.append((time.monotonic(), json.loads(self.rfile.read(length) or b"null")))
        status, headers, body = type(self).script.pop(0) if type(self).script else (200, {}, {"ok": True})
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Retries(unittest.TestCase):
    def setUp(self):
        Scripted.script, Scripted.seen, Scripted.connections = [], [], 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def tearDown(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def busy(self, status, retry_after):
        return (status, {"Retry-After": retry_after}, {"error": {"type": "overloaded", "message": "queue full"}})

    def test_429_and_503_are_retried_honouring_retry_after(self):
        Scripted.script = [self.busy(429, "0.3"), self.busy(503, "0.3")]
        c = pc.Client(self.url, retries=3, backoff=0.01)
        self.assertEqual(c.post("/rank", {"input": "q"}), {"ok": True})
        times = [t for t, _ in Scripted.seen]
        self.assertEqual(len(times), 3)
        self.assertGreaterEqual(times[1] - times[0], 0.29)
        self.assertGreaterEqual(times[2] - times[1], 0.29)

    def test_retries_run_out_with_a_typed_error(self):
        Scripted.script = [self.busy(503, "0")] * 3
        c = pc.Client(self.url, retries=2, backoff=0.01)
        with self.assertRaises(pc.Unavailable) as e:
            c.post("/rank", {"input": "q"})
        self.assertEqual(e.exception.message, "queue full")
        self.assertEqual(len(Scripted.seen), 3)

    def test_other_errors_are_not_retried(self):
        Scripted.script = [(422, {}, {"error": {"type": "validation", "message": "candidates: must not be empty"}})]
        with self.assertRaises(pc.ValidationFailed):
            pc.Client(self.url, retries=5).post("/rank", {})
        self.assertEqual(len(Scripted.seen), 1)

    def test_keep_alive_reuses_one_connection(self):
        c = pc.Client(self.url)
        for _ in range(5):
            c.post("/rank", {"input": "q"})
        self.assertEqual(Scripted.connections, 1)

    def test_unreachable_server_is_connection_failed_after_retries(self):
        c = pc.Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01, timeout=2)
        start = time.monotonic()
        with self.assertRaises(pc.ConnectionFailed):
            c.health()
        self.assertLess(time.monotonic() - start, 10)


if __name__ == "__main__":
    unittest.main()
