"""``kameleoon-pandas serve`` (and ``python -m kameleoon_pandas.emulator``) and the demo wiring."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest

from kameleoon_pandas import cli


def test_serve_in_the_foreground_prints_its_url_and_stops_on_interrupt(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kameleoon_pandas.emulator",
            "--port",
            "0",
            "--db",
            str(db),
            "--seed",
            "demo",
            "--seed-number",
            "3",
            "--require-auth",
            "--client-id",
            "me",
            "--client-secret",
            "s3cret",
            "--token-ttl",
            "60",
            "--strict",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(6)]
        url = banner[0].split(" on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert banner[3].split()[-1] == "s3cret" and "demosite01, demosite02" in banner[4]
        with httpx.Client(base_url=url, timeout=10) as http:
            assert (
                http.get("/map/map", params={"siteCode": "demosite01", "key": "k"}).status_code
                == 401
            )
            token = http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "me",
                    "client_secret": "s3cret",
                },
            ).json()
            assert token["expires_in"] == 60
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            banner_map = http.get(
                "/map/map",
                params={"siteCode": "demosite01", "key": "config:banner"},
                headers=headers,
            )
            assert banner_map.json()["active"] is True
            strict = http.post(
                "/visit/events",
                params={"siteCode": "demosite01"},
                content="eventType=x",
                headers=headers,
            )
            assert strict.status_code == 400
    finally:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader has gone (as `| head` goes): stopping must not fail
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        err = proc.stderr.read()
        proc.stderr.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert db.exists()


def test_every_emulator_option_is_a_serve_flag_with_the_same_default() -> None:
    from kameleoon_pandas.emulator import EmulatorOptions

    args = cli.build_parser().parse_args(["serve"])
    defaults = EmulatorOptions()
    for name in EmulatorOptions.field_names():
        assert getattr(args, name) == getattr(defaults, name), name


def test_bad_flags_are_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--fault-rate", "2"])
    assert info.value.code == 2
    assert "--fault-rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--seed", "other"])


def test_a_busy_port_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    from kameleoon_pandas.emulator.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        code = cli.main(["serve", "--port", str(sock.getsockname()[1])])
    finally:
        sock.close()
    assert code == 1
    assert "cannot listen" in capsys.readouterr().err


def test_demo_calls_run_demo_and_prints_the_report_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = []

    def fake_run_demo(*, out_dir: Path, random_seed: int, progress: bool) -> Path:
        calls.append((out_dir, random_seed, progress))
        return out_dir / "report.html"

    # Only the wiring is tested here (the demo has its own tests); skip its heavy imports.
    fake = types.ModuleType("kameleoon_pandas.demo")
    fake.run_demo = fake_run_demo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kameleoon_pandas.demo", fake)
    assert cli.main(["demo", "--out", str(tmp_path), "--seed-number", "7"]) == 0
    assert calls == [(tmp_path, 7, True)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kameleoon_pandas._version import __version__

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"kameleoon-pandas {__version__}\n"


def test_serve_and_the_emulator_module_share_one_parser(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kameleoon_pandas.emulator import EmulatorOptions, args

    monkeypatch.setenv("COLUMNS", "200")  # no wrapped help lines
    own = vars(args.build_parser().parse_args([]))
    served = vars(cli.build_parser().parse_args(["serve"]))
    assert served.pop("command") == "serve"
    assert own == served
    assert EmulatorOptions.field_names() <= set(own)
    assert own["port"] == 8787 and own["db"] == ":memory:" and own["seed"] is None
    for main in (args.main, lambda argv: cli.main(["serve", *argv])):
        with pytest.raises(SystemExit) as info:
            main(["--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        assert "--token-ttl" in text and "(default: 3600.0)" in text
        assert "(default: demo-client)" in text and "(default: None)" not in text


def test_access_log_prints_each_request_on_stdout() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kameleoon_pandas.emulator", "--port", "0", "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ", 1)[1].strip()
        while "Ctrl-C" not in proc.stdout.readline():
            pass
        with httpx.Client(base_url=url, timeout=10) as http:
            http.get("/map/map", params={"siteCode": "s", "key": "k"})
            http.post("/visit/events", params={"siteCode": "s"}, content="eventType=nope")
            http.get("/map/maps", params={"siteCode": "s"})
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    logged = [line for line in out.splitlines() if " ms" in line]
    assert len(logged) == 3, out
    assert re.fullmatch(r"GET /map/map 200 \d+\.\d ms", logged[0])
    assert re.fullmatch(r"POST /visit/events 204 \d+\.\d ms", logged[1])
    assert re.fullmatch(r"GET /map/maps 400 \d+\.\d ms", logged[2])
    assert "ms" not in err


def test_without_access_log_serve_prints_no_request_lines() -> None:
    args = cli.build_parser().parse_args(["serve"])
    assert args.access_log is False
    assert cli.build_parser().parse_args(["serve", "--access-log"]).access_log is True


def test_faults_is_a_comma_separated_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parse = cli.build_parser().parse_args
    assert parse(["serve"]).faults == ("429", "500", "drop")
    assert parse(["serve", "--faults", "429,lost-ack"]).faults == ("429", "lost-ack")
    assert parse(["serve", "--faults", "lost-ack, 500"]).faults == ("lost-ack", "500")
    assert parse(["serve", "--faults", ""]).faults == ()
    with pytest.raises(SystemExit) as info:
        parse(["serve", "--faults", "429,teapot"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--faults" in err and "'teapot'" in err and "lost-ack" in err


def test_help_documents_the_fault_kinds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--faults KIND[,KIND...]" in text
    assert "(default: 429,500,drop)" in text
    for kind in ("429", "500", "drop", "lost-ack"):
        assert kind in text
    assert "handled and stored, then the connection is dropped" in text
    assert "--access-log" in text and "time in ms" in text


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--token-ttl", "nan"], "--token-ttl"),
        (["--token-ttl", "inf"], "--token-ttl"),
        (["--latency-ms", "-inf"], "--latency-ms"),
        (["--fault-rate", "nan"], "--fault-rate"),
        (["--max-event-body", "1e3"], "--max-event-body"),
        (["--seed-number", "-1"], "--seed-number"),
        (["--port", "-5"], "--port"),
    ],
)
def test_bad_numbers_are_clean_argparse_errors(
    capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", *flags])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_demo_seed_number_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--seed-number", "-1"])
    assert info.value.code == 2
    assert "--seed-number" in capsys.readouterr().err


def test_a_negative_seed_number_in_the_foreground_server_is_refused() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kameleoon_pandas.emulator",
            "--seed",
            "demo",
            "--seed-number",
            "-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--seed-number" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("token_ttl", float("nan"), ValueError),
        ("token_ttl", float("inf"), ValueError),
        ("latency_ms", float("-inf"), ValueError),
        ("fault_rate", float("nan"), ValueError),
        ("fault_rate", 1.5, ValueError),
        ("token_ttl", -1, ValueError),
        ("max_event_body", 1.5, TypeError),
        ("max_small_body", True, TypeError),
        ("require_auth", "yes", TypeError),
        ("client_id", 7, TypeError),
        ("faults", ("429", "boom"), ValueError),
    ],
)
def test_options_refuse_what_they_cannot_hold(field: str, value: object, error: type) -> None:
    from kameleoon_pandas.emulator import EmulatorOptions, serve

    with pytest.raises(error, match=f"EmulatorOptions.{field}"):
        EmulatorOptions(**{field: value})
    options = EmulatorOptions()
    with pytest.raises(error, match=f"EmulatorOptions.{field}"):
        setattr(options, field, value)
    with pytest.raises(error), serve(**{field: value}):
        pass


def test_a_token_lifetime_given_as_an_integer_is_read_as_seconds() -> None:
    from kameleoon_pandas.emulator import EmulatorOptions

    assert EmulatorOptions(token_ttl=60).token_ttl == 60.0
    assert EmulatorOptions(faults="lost-ack").faults == ("lost-ack",)
    assert EmulatorOptions(faults=["500", "500"]).faults == ("500",)


def test_seeding_with_a_negative_random_seed_is_a_clear_error() -> None:
    from kameleoon_pandas.emulator import EmulatorState, seed_state

    state = EmulatorState(":memory:")
    with pytest.raises(ValueError, match="random_seed must be an integer >= 0"):
        seed_state(state, "demo", random_seed=-1)
    state.close()


def test_unusable_paths_and_wildcard_hosts_get_clean_messages(tmp_path) -> None:
    import subprocess
    import sys

    from kameleoon_pandas.emulator.server import base_url

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kameleoon_pandas.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = tmp_path / "no" / "such" / "x.sqlite"
    done = cli("serve", "--db", str(missing))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"kameleoon-pandas serve: cannot use --db {missing}: the folder "
        f"'{missing.parent}' does not exist"
    )
    done = cli("serve", "--db", str(tmp_path))
    assert done.returncode == 2 and "is a folder" in done.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    done = cli("demo", "--out", str(blocked / "reports"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot write the report to --out" in done.stderr
    assert base_url("0.0.0.0", 8787) == "http://127.0.0.1:8787"
    assert base_url("::", 1) == "http://[::1]:1" and base_url("::1", 2) == "http://[::1]:2"
    assert base_url("localhost", 3) == "http://localhost:3"
