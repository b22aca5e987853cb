"""``kameleoon-pandas serve`` (and ``python -m kameleoon_pandas.emulator``) and the demo wiring."""

from __future__ import annotations

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
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
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
