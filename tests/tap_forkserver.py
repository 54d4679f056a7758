"""Runs of the real `tap-hindsight` command without paying for its imports every time.

A tap process spends about 0.6 s of its life importing the Meltano SDK before it reads its
config; the tests run the tap some 150 times. So each test process keeps one server
process that has imported `tap_hindsight.tap` once and forks a child for every run. The
child is a process of its own, as the console script's would be: its own working folder,
environment, arguments, stdin (empty), stdout and stderr (files the test reads), and it
runs what the console script runs, `TapHindsight.cli()`, and ends as the script would: the
same exit code (SystemExit's, 1 and a traceback for an uncaught exception, killed by
SIGINT for an uncaught KeyboardInterrupt), every thread that is not a daemon joined, the
atexit handlers run and the streams flushed (`_end_as_the_script`). Only the imports
happened before the fork, and nothing the SDK or the tap reads from the environment is
read at import time.

What the child skips is the interpreter's teardown of every module it inherited: that
touches every object of the server's heap, so the kernel copies nearly every page the
fork shared, about 110 ms of CPU for each run (more than a short run itself takes,
about 30 ms). Nothing of the tap's runs at teardown (no `__del__` or weakref finalizer of
its own; the SDK's logging is flushed by its atexit handler).

Tests that signal the tap (test_resume.py's kill) or check the installed script itself
(test_packaging.py; test_exit.py's exit paths and test_cli.py's comparison of a forked
run with a fresh one, through `run_tap(..., fresh=True)`) start the console script
instead, and `HINDSIGHT_TESTS_FRESH_TAP=1` makes every run do so.

Protocol (one run at a time per server), a JSON line each way: the request
`{"argv", "cwd", "env", "stdout", "stderr"}`, then the answers `{"pid"}` once the child is
forked and `{"returncode"}` once it has ended (negative: killed by that signal).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from collections.abc import Callable

#: The console script's folder: its sys.path[0], which the child gets too.
SCRIPTS = str(Path(sys.executable).parent)


def serve() -> None:
    """The server: import the tap, then fork one child per request read on stdin."""
    from tap_hindsight.tap import TapHindsight  # noqa: PLC0415 (the import the runs share)

    replies = sys.stdout
    for line in sys.stdin.buffer:
        request = json.loads(line)
        replies.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_the_tap(request)
            _end_as_the_script(TapHindsight.cli)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


def _end_as_the_script(main: Callable[[], object]) -> NoReturn:
    """Run `main` as the console script would, then end the child as its interpreter would
    end, but without tearing down the modules (the module's docstring says why)."""
    code, interrupted = 0, False
    try:
        code = _exit_code(main())  # the script passes what it returns to sys.exit
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        interrupted = True  # the interpreter ends killed by the signal it was sent
    except BaseException:  # noqa: BLE001 (whatever it is, the script would print it)
        sys.excepthook(*sys.exc_info())
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001 (what the interpreter runs at its end)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def _exit_code(code: object) -> int:
    """The exit status SystemExit(code) gives a Python process."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # noqa: T201 (what the interpreter prints)
    return 1


def _become_the_tap(request: dict[str, Any]) -> None:
    """In the forked child: the tap's folder, environment, arguments and streams."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    sys.path[0] = SCRIPTS
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    # The server read its requests through sys.stdin: the tap gets a fresh, empty one.
    sys.stdin = open(0, encoding=sys.stdin.encoding, closefd=False)  # noqa: SIM115
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class TapServer:
    """The test process's side: starts the server on first use, one run at a time."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        """Servers start with `env` (the tests' clean environment) in `cwd`."""
        self._env = env
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._unread = b""
        self._lock = threading.Lock()
        self._outputs = tempfile.TemporaryDirectory(prefix="tap-runs-")
        atexit.register(self.close)

    def _server(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._unread = b""
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.tap_forkserver"],
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
        return self._process

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> tuple[int, str, str]:
        """Run the tap with `argv` in `cwd` under `env`: (exit code, stdout, stderr)."""
        folder = Path(self._outputs.name)
        out, err = folder / "stdout", folder / "stderr"
        with self._lock:
            server = self._server()
            assert server.stdin is not None
            assert server.stdout is not None
            request = {
                "argv": argv,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(out),
                "stderr": str(err),
            }
            server.stdin.write(json.dumps(request).encode() + b"\n")
            pid = self._reply(server.stdout.fileno(), None)["pid"]
            try:
                returncode = self._reply(server.stdout.fileno(), timeout)["returncode"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._reply(server.stdout.fileno(), None)
                raise subprocess.TimeoutExpired(argv, timeout) from None
            return returncode, out.read_text(), err.read_text()

    def _reply(self, fd: int, timeout: float | None) -> dict[str, Any]:
        """The server's next line (waiting at most `timeout` seconds for it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._unread:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                msg = "the tap server ended unexpectedly"
                raise RuntimeError(msg)
            self._unread += chunk
        line, self._unread = self._unread.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        """Stop the server (it has waited for every child it forked)."""
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=30)
        self._process = None
        self._outputs.cleanup()


if __name__ == "__main__":
    serve()
