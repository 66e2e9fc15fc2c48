"""A reimplementation of the classic HumanEval harness, as the baseline of the sandbox
benchmark (benches/sandbox.rs): one multiprocessing.Process per check, with a
multiprocessing.Manager list to carry the result back, a thread pool of N workers
submitting checks, and, in the child, a temporary directory, swallowed I/O, an
interval timer for the time limit and an address-space limit.

Usage: python classic_harness.py PROGRAMS.json WORKERS TIMEOUT_SECONDS
PROGRAMS.json holds a JSON list of program texts. Prints one JSON object:
{"seconds": wall time of all checks, "passed": [true | false, ...]}.
"""

import contextlib
import io
import json
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


class TimeoutException(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    def on_alarm(signum, frame):
        raise TimeoutException("timed out")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def quiet_io():
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


@contextlib.contextmanager
def scratch_dir():
    path = tempfile.mkdtemp()
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
        shutil.rmtree(path, ignore_errors=True)


def guard(memory_bytes=1 << 30):
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    os.environ["OMP_NUM_THREADS"] = "1"


def execute(program, timeout, result):
    with scratch_dir():
        guard()
        try:
            with quiet_io():
                with time_limit(timeout):
                    exec(program, {})
            result.append("passed")
        except TimeoutException:
            result.append("timed out")
        except BaseException as err:  # noqa: BLE001 - any failure fails the check
            result.append("failed: %s" % type(err).__name__)


def check(program, timeout):
    manager = multiprocessing.Manager()
    result = manager.list()
    process = multiprocessing.Process(target=execute, args=(program, timeout, result))
    process.start()
    process.join(timeout=timeout + 1)
    if process.is_alive():
        process.kill()
    outcome = list(result)
    manager.shutdown()
    return bool(outcome) and outcome[0] == "passed"


def main():
    path, workers, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with open(path, encoding="utf-8") as file:
        programs = json.load(file)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        passed = list(pool.map(lambda program: check(program, timeout), programs))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "passed": passed}))


if __name__ == "__main__":
    main()
