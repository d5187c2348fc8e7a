"""Follows and their pushes in both stores: kept across restarts, each push claimed by one
worker only and sent once, a chat's follows capped and forgotten on demand."""

from index.config import load_config
from index.follows import Due, Follow, open_follows
from tests.conftest import write_config

CHAT, GROUP = 1001, -100123


def _stores(tmp_path, store_config, n=2):
    config = load_config(write_config(tmp_path, store=store_config))
    return [open_follows(config) for _ in range(n)]  # as many workers (or restarts) on one database


def test_follows_are_kept_capped_and_pushes_are_claimed_once(tmp_path, store_config):
    first, second = _stores(tmp_path, store_config)
    story = Follow("", CHAT, "story", "How many villages flooded?", "Mosul Dam bursts", "en", "bbc-dam", "st-1")
    state, followed = first.add(story, limit=2)
    assert state == "added" and followed.id
    assert first.add(story, limit=2)[0] == "exists"
    question = Follow("", CHAT, "question", "Mosul Dam", "Mosul Dam", "en")
    assert first.add(question, limit=2)[0] == "added"
    assert first.add(Follow("", CHAT, "question", "  mosul   DAM ", "x", "en"), limit=2)[0] == "exists"
    assert first.add(Follow("", CHAT, "question", "Basra port", "Basra port", "en"), limit=2)[0] == "full"
    assert first.add(Follow("", GROUP, "question", "Basra port", "Basra port", "ar"), limit=2)[0] == "added"
    assert [f.label for f in second.of_chat(CHAT)] == ["Mosul Dam bursts", "Mosul Dam"]

    assert first.unseen(["a", "b"]) is None  # the archive as first seen owes nothing
    first.record(["a", "b"], [])
    assert second.unseen(["a", "b", "c"]) == ["c"]
    passage = {"rank": 1, "doc_id": "c", "text": "The dam burst."}
    due = Due(followed.id, "c", CHAT, "ev-1", passage)
    first.record(["c"], [due])
    second.record(["c"], [due])  # another worker saw the same build: one push still
    assert first.unseen(["c"]) == []

    assert first.due_chats() == [CHAT]
    token, claimed = first.claim(CHAT)
    assert second.claim(CHAT)[1] == []  # the other worker finds nothing left to send
    [(follow, article, event, kept)] = claimed
    assert (follow.id, article, event, kept) == (followed.id, "c", "ev-1", passage)
    first.release(token)  # the send failed: due again
    token, claimed = second.claim(CHAT)
    second.sent(token, [(followed.id, "c")])
    assert first.due_chats() == [] and first.claim(CHAT)[1] == []
    first.record(["c"], [due])  # seen again (a rebuild): sent is sent
    assert first.due_chats() == []

    assert second.forget_chat(CHAT) == 2  # blocked the bot
    assert first.of_chat(CHAT) == [] and [f.chat for f in first.all()] == [GROUP]
    for store in (first, second):
        store.close()
    [again] = _stores(tmp_path, store_config, 1)  # a restart
    assert [f.label for f in again.of_chat(GROUP)] == ["Basra port"] and again.unseen(["c", "d"]) == ["d"]
    again.close()


def test_pushes_due_too_long_ago_are_dropped_and_unfollowed_ones_never_sent(tmp_path, store_config):
    [store] = _stores(tmp_path, store_config, 1)
    _, one = store.add(Follow("", CHAT, "question", "dam", "dam", "en"), limit=5)
    _, two = store.add(Follow("", CHAT, "question", "port", "port", "en"), limit=5)
    store.record([], [])
    store.record(["x"], [Due(one.id, "x", CHAT, None, {}), Due(two.id, "x", CHAT, None, {})])
    store.remove(two.id)
    assert store.expire(1) == 0
    token, claimed = store.claim(CHAT)
    assert [f.id for f, *_ in claimed] == [one.id]
    store.release(token)
    assert store.expire(-2 / 86400) == 1 and store.due_chats() == []  # as seen two seconds on with no catch-up
    store.close()
