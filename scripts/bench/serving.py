"""Starting `pairranker serve` for the benchmark scripts that drive it (server_latency.py,
rescoring.py): a free port, the process, and a wait until /ready answers 200. Standard library only."""
import http.client, socket, subprocess, sys, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, args, timeout=120.0):
    """Runs `binary serve --port P ARGS...` and returns (process, port) once /ready says 200."""
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--port", str(port)] + list(args),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"pairranker serve exited with status {proc.returncode} before it was ready")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/ready")
            ready = c.getresponse().status == 200
            c.close()
            if ready:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit("the server did not become ready")


def stop(proc):
    proc.terminate()
    proc.wait(timeout=60)
