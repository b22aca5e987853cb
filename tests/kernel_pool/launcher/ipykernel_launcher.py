"""Stands in for ipykernel's launcher in the test run: the kernel is forked from a warm server.

``tests/conftest.py`` puts this folder first on ``PYTHONPATH``, so every kernel the suite
starts with ``python -m ipykernel_launcher`` (this package's notebook runner, nbconvert,
Voilà) comes here. Where the run set up a pool (``KP_TESTS_KERNEL_POOL``, a folder) and this is
the run's interpreter, it asks the ``../server.py`` of its identity (started on first use,
one per identity: see ``kernel_pool_identity.py``) to fork the kernel, hands
it its standard streams, relays signals to it, and exits as it does. Otherwise, or when the
server refuses, it runs ipykernel's own launcher, unchanged.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import time

from kernel_pool_identity import identity, key

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(os.path.dirname(HERE), "server.py")
POOL, OWNER, PYTHON = "KP_TESTS_KERNEL_POOL", "KP_TESTS_KERNEL_POOL_OWNER", "KP_TESTS_PYTHON"


def _real_launcher() -> None:
    sys.path[:] = [p for p in sys.path if p != HERE]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _pool(path: str, owner: str) -> socket.socket:
    """A connection to the server at ``path``, which the first kernel of its identity starts."""
    try:
        return _connect(path)
    except OSError:
        pass
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one launcher starts it; the others wait here
        try:
            return _connect(path)
        except OSError:
            pass
        with open(path + ".log", "ab") as log:
            server = subprocess.Popen(
                [sys.executable, SERVER, path, owner],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # out of this kernel's group, which the manager signals
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise OSError(f"the kernel pool server exited; see {path}.log")
            try:
                return _connect(path)
            except OSError:
                time.sleep(0.02)
        raise OSError("the kernel pool server did not listen within 60 s")


def main() -> None:
    folder, owner = os.environ.get(POOL), os.environ.get(OWNER)
    if not folder or not owner or os.environ.get(PYTHON) != sys.executable:
        _real_launcher()
        return
    # [0] is the working directory, which ipykernel's launcher takes off; this folder is left
    # out too, as the real launcher (below) runs without it.
    sys_path = [p for p in sys.path[1:] if p != HERE]
    # One server per identity: a kernel started with another import-time environment (another
    # MPLBACKEND, say, as tests/test_suite.py starts one) gets a server of its own.
    path = os.path.join(folder, key(identity(sys.executable, sys_path, dict(os.environ))))
    try:
        sock = _pool(path, owner)
    except OSError as exc:
        print(
            f"kernel pool unavailable ({exc}); starting the kernel the usual way", file=sys.stderr
        )
        _real_launcher()
        return
    request = {
        "argv": sys.argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "path": sys_path,
        "executable": sys.executable,
    }
    data = json.dumps(request).encode() + b"\n"
    fds = array.array("i", [0, 1, 2])
    replies = sock.makefile("rb")
    try:
        sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        if sent < len(data):  # (a send of nothing to a server that has answered: EPIPE)
            sock.sendall(data[sent:])
        reply = json.loads(replies.readline() or b'{"refused": "the server hung up"}')
    except (OSError, ValueError) as exc:
        reply = {"refused": repr(exc)}
    if "refused" in reply:
        sock.close()
        _real_launcher()
        return
    pid = reply["pid"]

    def _relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(signum, _relay)
    line = replies.readline()
    code = json.loads(line)["exit"] if line else 1
    if code < 0:  # killed by a signal: so is this process, for the kernel manager to see
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
