"""The lazy-loading member cache: only responses the client proved it received count."""

from __future__ import annotations

from ranvier.sync.lazy_members import MAX_PENDING, LazyMemberCache


def test_members_count_once_the_client_presents_the_next_batch() -> None:
    cache = LazyMemberCache()
    cache.record("@a:x", "D", 1, [("@b:x", 10), ("@c:x", 11)], 100, whole=True)
    assert cache.delivered("@a:x", "D", 1, 50) == {}  # an older since: not received
    assert cache.delivered("@a:x", "D", 1, 100) == {"@b:x": 10, "@c:x": 11}
    assert cache.delivered("@a:x", "OTHER", 1, 100) == {}
    assert cache.delivered("@a:x", "D", 2, 100) == {}


def test_a_lost_response_is_never_confirmed() -> None:
    cache = LazyMemberCache()
    cache.record("@a:x", "D", 1, [("@b:x", 10)], 100, whole=True)
    cache.confirm("@a:x", "D", 100)
    cache.record("@a:x", "D", 1, [("@c:x", 11)], 200)  # lost
    cache.record("@a:x", "D", 1, [("@d:x", 12)], 210)  # the retry from since=100
    assert cache.delivered("@a:x", "D", 1, 210) == {"@b:x": 10, "@d:x": 12}
    # The lost response's record was dropped when 210 was presented.
    assert cache.delivered("@a:x", "D", 1, 200) == {"@b:x": 10, "@d:x": 12}


def test_a_whole_room_replaces_and_a_new_event_updates() -> None:
    cache = LazyMemberCache()
    cache.record("@a:x", None, 1, [("@b:x", 10), ("@c:x", 11)], 100, whole=True)
    cache.record("@a:x", None, 1, [("@b:x", 20)], 200)
    cache.confirm("@a:x", None, 100)
    assert cache.delivered("@a:x", None, 1, 200) == {"@b:x": 20, "@c:x": 11}
    cache.record("@a:x", None, 1, [("@d:x", 30)], 300, whole=True)
    assert cache.delivered("@a:x", None, 1, 300) == {"@d:x": 30}


def test_bounded() -> None:
    cache = LazyMemberCache(max_devices=3)
    for i in range(10):
        cache.record(f"@u{i}:x", "D", 1, [("@b:x", 1)], 5)
    assert len(cache) == 3
    for position in range(MAX_PENDING + 5):
        cache.record("@a:x", "D", 1, [("@b:x", position)], position + 1)
    assert cache.delivered("@a:x", "D", 1, 1) == {}  # evicted before it was confirmed
    assert cache.delivered("@a:x", "D", 1, MAX_PENDING + 5) == {"@b:x": MAX_PENDING + 4}
