"""The route table on its own: matching rules, decoding, 404 vs 405, registration errors."""

from __future__ import annotations

import pytest

from ranvier.http.router import Router
from ranvier.http.types import MatrixError, Request, Response


def handler_named(label: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        return Response(200, label.encode())

    handler.__name__ = label
    return handler


H = {name: handler_named(name) for name in ("a", "b", "c", "d", "e", "f", "g")}


def make_router() -> Router:
    r = Router()
    r.add("GET", "/_matrix/client/versions", H["a"], name="versions")
    r.add("GET", "/_matrix/client/v3/rooms/{roomId}/state", H["b"])
    r.add("POST", "/_matrix/client/v3/rooms/createRoom/x", H["c"])
    r.add("GET", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", H["d"])
    r.add("PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", H["e"])
    r.add("GET", "/_matrix/media/v3/download/{serverName}/{mediaId}/{fileName:path}", H["f"])
    r.add("GET", "/_matrix/media/v3/download/{serverName}/{mediaId}", H["g"])
    return r


def test_static_route_returns_name_and_no_params() -> None:
    handler, params, name = make_router().resolve("GET", "/_matrix/client/versions")
    assert handler is H["a"]
    assert params == {}
    assert name == "versions"


def test_param_route_default_name_is_pattern() -> None:
    handler, params, name = make_router().resolve("GET", "/_matrix/client/v3/rooms/!r:x/state")
    assert handler is H["b"]
    assert params == {"roomId": "!r:x"}
    assert name == "/_matrix/client/v3/rooms/{roomId}/state"


def test_literal_preferred_then_backtracks_to_param() -> None:
    r = make_router()
    # "createRoom" is a literal child, but only POST .../createRoom/x exists there:
    # GET .../createRoom/state must backtrack to the {roomId} branch.
    handler, params, _ = r.resolve("GET", "/_matrix/client/v3/rooms/createRoom/state")
    assert handler is H["b"]
    assert params == {"roomId": "createRoom"}
    handler, params, _ = r.resolve("POST", "/_matrix/client/v3/rooms/createRoom/x")
    assert handler is H["c"]
    assert params == {}


def test_segments_are_decoded_after_splitting() -> None:
    r = make_router()
    path = "/_matrix/client/v3/rooms/%21room%3Aexample.org/state/m.room.member/%40u%2Fv%3Ahs"
    handler, params, _ = r.resolve("GET", path)
    assert handler is H["d"]
    assert params == {
        "roomId": "!room:example.org",
        "eventType": "m.room.member",
        "stateKey": "@u/v:hs",
    }


def test_empty_state_key_segment() -> None:
    handler, params, _ = make_router().resolve(
        "PUT", "/_matrix/client/v3/rooms/!r:x/state/m.room.name/"
    )
    assert handler is H["e"]
    assert params["stateKey"] == ""


def test_encoded_literal_segment_matches() -> None:
    handler, _, _ = make_router().resolve("GET", "/_matrix/client/%76ersions")
    assert handler is H["a"]


def test_path_tail_takes_the_rest() -> None:
    r = make_router()
    handler, params, _ = r.resolve("GET", "/_matrix/media/v3/download/hs/abc/dir/na%20me.png")
    assert handler is H["f"]
    assert params == {"serverName": "hs", "mediaId": "abc", "fileName": "dir/na me.png"}
    handler, params, _ = r.resolve("GET", "/_matrix/media/v3/download/hs/abc")
    assert handler is H["g"]
    assert params == {"serverName": "hs", "mediaId": "abc"}


def test_unknown_path_is_404_unrecognized() -> None:
    with pytest.raises(MatrixError) as info:
        make_router().resolve("GET", "/_matrix/client/v3/nope")
    assert info.value.status == 404
    assert info.value.errcode == "M_UNRECOGNIZED"


def test_wrong_method_is_405_with_allow() -> None:
    with pytest.raises(MatrixError) as info:
        make_router().resolve("DELETE", "/_matrix/client/v3/rooms/!r/state/t/k")
    assert info.value.status == 405
    assert info.value.errcode == "M_UNRECOGNIZED"
    assert ("Allow", "GET, HEAD, PUT") in info.value.headers


def test_405_on_static_path() -> None:
    with pytest.raises(MatrixError) as info:
        make_router().resolve("POST", "/_matrix/client/versions")
    assert info.value.status == 405


def test_head_falls_back_to_get() -> None:
    handler, _, _ = make_router().resolve("HEAD", "/_matrix/client/versions")
    assert handler is H["a"]


def test_bad_percent_encoding_is_400() -> None:
    with pytest.raises(MatrixError) as info:
        make_router().resolve("GET", "/_matrix/client/v3/rooms/%ff%fe/state")
    assert info.value.status == 400


def test_allowed_methods() -> None:
    r = make_router()
    assert r.allowed_methods("/_matrix/client/v3/rooms/!r/state/t/k") == {"GET", "HEAD", "PUT"}
    assert r.allowed_methods("/nowhere") == frozenset()


def test_add_versions_shares_one_name() -> None:
    r = Router()
    r.add_versions("GET", "/_matrix/client", ("r0", "v3"), "/account/whoami", H["a"])
    for version in ("r0", "v3"):
        handler, _, name = r.resolve("GET", f"/_matrix/client/{version}/account/whoami")
        assert handler is H["a"]
        assert name == "/_matrix/client/v3/account/whoami"
    assert len(r) == 2


@pytest.mark.parametrize(
    "pattern",
    ["no/slash", "/a/{b:path}/c", "/a/{not an id}", "/a/x{y}"],
)
def test_malformed_patterns_rejected(pattern: str) -> None:
    with pytest.raises(ValueError):
        Router().add("GET", pattern, H["a"])


def test_duplicate_and_conflicting_params_rejected() -> None:
    r = Router()
    r.add("GET", "/a/{x}", H["a"])
    with pytest.raises(ValueError):
        r.add("GET", "/a/{x}", H["b"])
    with pytest.raises(ValueError):
        r.add("PUT", "/a/{y}", H["b"])


def test_many_routes_resolve_to_the_right_handler() -> None:
    r = Router()
    handlers = {}
    for i in range(300):
        h = handler_named(f"h{i}")
        handlers[i] = h
        r.add("GET", f"/_matrix/client/v3/area{i % 10}/{{p}}/thing{i}", h)
    for i in range(300):
        handler, params, _ = r.resolve("GET", f"/_matrix/client/v3/area{i % 10}/val{i}/thing{i}")
        assert handler is handlers[i]
        assert params == {"p": f"val{i}"}
