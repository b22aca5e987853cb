"""A fork server for the test run's Jupyter kernels: each kernel forks from one warm process.

Started on first use by ``launcher/ipykernel_launcher.py`` (which the test run puts first on
``PYTHONPATH``), it imports ipykernel, pandas, matplotlib and this package once, then forks a
kernel for each request. The suite starts about 15 kernels (notebooks, the demo report,
nbconvert, Voilà); started the usual way, each took about 1.6 s to be ready and run a first
cell that imports those, and about 0.45 s forked.

The forked child is then the same kernel as one started by ``python -m ipykernel_launcher``:
the request's argv, environment, working directory and standard streams; its own session;
fresh random seeds; the interpreter's exit (atexit, non-daemon threads). There is one server
per identity: the interpreter, ``sys.path`` and the environment that modules read at import
(``launcher/kernel_pool_identity.py``). The server checks the identity again and refuses a
request that differs; the launcher then starts the kernel the usual way.

Protocol, over a Unix socket: the launcher sends one JSON line with its stdin/stdout/stderr
attached (``SCM_RIGHTS``); the server answers ``{"pid": N}`` or ``{"refused": reason}``, and
later ``{"exit": code}`` when the kernel has exited. The launcher relays signals to the pid.
The child watches the connection: if the launcher dies (``SIGKILL`` from the kernel manager),
the kernel is killed too. The server exits when the process named by its owner pid (the
pytest run) does, killing any kernel still running.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Any

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher")

#: Imported before any fork: what a kernel and the suite's notebooks import anyway. Not
#: ``matplotlib.pyplot`` nor ``matplotlib_inline.backend_inline``: imported, they hook into the
#: IPython shell they find, and here there is none yet (the plots would never be sent).
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "IPython.core.pylabtools",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "ipywidgets",
    "kameleoon_pandas",
    "kameleoon_pandas.demo",
    "kameleoon_pandas.loaders",
    "kameleoon_pandas.writers",
    "kameleoon_pandas.plots",
    "kameleoon_pandas.client",
    "kameleoon_pandas.emulator",
)

if LAUNCHER not in sys.path:  # (it is on PYTHONPATH in the test run)
    sys.path.append(LAUNCHER)
from kernel_pool_identity import KERNEL_MPLBACKEND, identity  # noqa: E402


def _refusal(request: dict[str, Any], mine: dict[str, Any]) -> str | None:
    theirs = identity(request["executable"], request["path"], request["env"])
    for key in mine:
        if theirs[key] != mine[key]:
            if key == "env":
                names = sorted(
                    k
                    for k in theirs[key].keys() | mine[key].keys()
                    if theirs[key].get(k) != mine[key].get(k)
                )
                return f"the environment differs from the server's in {', '.join(names)}"
            return f"{key} differs from the server's"
    if threading.active_count() != 1:
        return "the server has threads running"  # a fork would copy their locks mid-use
    return None


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
        if not chunk:
            raise ConnectionError("the launcher closed the connection")
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(memoryview(payload).cast("i"))
        data += chunk
    return json.loads(data), fds


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    # OSError: the launcher has gone; its kernel watches the connection and goes too.
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


def serve(path: str, owner: int) -> tuple[dict[str, Any], list[int], socket.socket] | None:
    """Fork a kernel per request. Returns only in a forked child: its request, fds and socket."""
    mine = identity(sys.executable, [p for p in sys.path[1:] if p != LAUNCHER], dict(os.environ))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    listener.listen(64)
    os.replace(path + ".new", path)  # only a listening server is ever found at ``path``
    with open(path + ".pid", "w") as pid_file:
        pid_file.write(str(os.getpid()))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    owner_fd = os.pidfd_open(owner)
    selector.register(owner_fd, selectors.EVENT_READ, "owner")
    kernels: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "owner":
                    return None
                if key.data == "accept":
                    conn, _ = listener.accept()
                    try:
                        request, fds = _read_request(conn)
                    except (OSError, ValueError) as exc:
                        print(f"unreadable request: {exc!r}", file=sys.stderr, flush=True)
                        conn.close()
                        continue
                    reason = _refusal(request, mine) if len(fds) == 3 else "no stdio attached"
                    if reason is not None:
                        print(f"refused: {reason}", file=sys.stderr, flush=True)
                        _send(conn, {"refused": reason})
                        conn.close()
                        for fd in fds:
                            os.close(fd)
                        continue
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        for pidfd, (_, other) in kernels.items():
                            os.close(pidfd)
                            other.close()
                        os.close(owner_fd)
                        selector.close()
                        listener.close()
                        return request, fds, conn
                    for fd in fds:
                        os.close(fd)
                    pidfd = os.pidfd_open(pid)
                    kernels[pidfd] = (pid, conn)
                    selector.register(pidfd, selectors.EVENT_READ, "kernel")
                    _send(conn, {"pid": pid})
                    continue
                pid, conn = kernels.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()
    finally:
        if os.getpid() == SERVER_PID:  # not in a forked child, which returns through here
            for pid, _ in kernels.values():
                _kill(pid)
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def become_kernel(request: dict[str, Any], fds: list[int], conn: socket.socket) -> None:
    """Turn this forked child into the kernel ``python -m ipykernel_launcher`` would start."""
    os.setsid()  # as jupyter_client's launch: signals to the server's group do not reach it
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = request["argv"]
    # As the launcher leaves it for ipykernel: without the working directory (the shell adds
    # it back) nor the launcher's own folder (the request carries neither).
    sys.path[:] = request["path"]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if "numpy.random" in sys.modules:  # ``random`` reseeds itself after a fork; numpy does not
        sys.modules["numpy.random"].seed()

    def _watch() -> None:
        # The launcher holds the other end until its kernel exits: EOF means it was killed.
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=_watch, name="kernel-pool-watch", daemon=True).start()
    from ipykernel import kernelapp

    code: int | str | None = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as exc:
        code = exc.code
    # The interpreter's exit, less the teardown of every module: in a forked child that
    # teardown touches each inherited page (copy-on-write) and took 0.45 s per kernel.
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as at exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if code is None:
        os._exit(0)
    if isinstance(code, int):
        os._exit(code)
    print(code, file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


SERVER_PID = os.getpid()

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # through serve()'s cleanup
    # What ipykernel does first when it is unset, so matplotlib reads the same at import.
    os.environ.setdefault("MPLBACKEND", KERNEL_MPLBACKEND)
    for name in PRELOAD:
        importlib.import_module(name)
    child = serve(sys.argv[1], int(sys.argv[2]))
    if child is not None:
        become_kernel(*child)
