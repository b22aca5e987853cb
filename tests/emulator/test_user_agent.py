"""``kp.Client`` names itself on every request, as data-api.md section 1 asks (the real service
answers 403 to what it takes for a bot): the emulator keeps the last user agents it saw."""

from __future__ import annotations

import pandas as pd

import kameleoon_pandas as kp
from kameleoon_pandas._version import __version__
from kameleoon_pandas.emulator import serve

USER_AGENT = f"kameleoon-pandas/{__version__}"


def user_agents_of_a_session() -> list[str]:
    """The user agents of the requests one session of ``kp.Client`` calls sends, in order: the
    token request first (``require_auth``: the first call waits for the token)."""
    with serve(require_auth=True) as srv:
        client = kp.Client(
            srv.site_codes[0],
            base_url=srv.url,
            token_url=srv.token_url,
            client_id=srv.client_id,
            client_secret=srv.client_secret,
        )
        with client:
            events = pd.DataFrame({"visitor_code": ["ua1", "ua2"], "goal_id": [1, 2]})
            assert kp.push_events(events, "conversion", client=client).sent == 2
            kp.push_maps(pd.DataFrame({"key": ["k1"], "tier": ["gold"]}), client=client)
            kp.read_visitor_feeds(["ua1", "ua2"], client=client)
            kp.read_maps(["k1"], client=client)
            kp.read_product_counters(["E1"], start="2024-01-01", end="2024-01-02", client=client)
            kp.forget_visitors(["ua1"], client=client)
        return srv.user_agents


def test_the_client_sends_its_user_agent_on_every_data_api_request() -> None:
    data_api = user_agents_of_a_session()[1:]
    assert len(data_api) >= 6, data_api  # one request per call at least
    assert set(data_api) == {USER_AGENT}, data_api


def test_the_client_sends_its_user_agent_on_the_token_request_too() -> None:
    assert user_agents_of_a_session()[0] == USER_AGENT


def test_the_emulator_keeps_the_last_user_agents_it_saw() -> None:
    import httpx

    from kameleoon_pandas.emulator.state import USER_AGENTS_KEPT

    with serve() as srv, httpx.Client(base_url=srv.url) as http:
        for i in range(USER_AGENTS_KEPT + 5):
            http.get(
                "/map/map", params={"siteCode": "s", "key": "k"}, headers={"User-Agent": f"t/{i}"}
            )
        seen = srv.user_agents
        assert len(seen) == USER_AGENTS_KEPT
        assert seen[0] == "t/5" and seen[-1] == f"t/{USER_AGENTS_KEPT + 4}"  # oldest first
        srv.state.clear_user_agents()
        assert srv.user_agents == []
