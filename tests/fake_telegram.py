"""A small stand-in for the Telegram Bot API, served over HTTP on 127.0.0.1 for the
unmodified python-telegram-bot stack: it records every call, and lets a test send a user's
message or press a button.

Known needs of PTB's polling: `getUpdates` is held open (long poll) until an update arrives
or its timeout passes; updates stay until a later `offset` confirms them; on stop PTB
cancels the poll and calls once more, so parked polls are woken and the runner shuts down
quickly. Parameters arrive form-encoded with non-string values JSON-encoded; `text` is raw.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

BOT = {
    "id": 777000,
    "is_bot": True,
    "first_name": "Sanad",
    "username": "sanad_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
RAW_FIELDS = {"text"}  # sent as-is, never JSON


@dataclass
class Call:
    method: str
    params: dict
    token: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token-for-the-fake-server"
    calls: list[Call] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    chats: dict[int, dict] = field(default_factory=dict)
    base_url: str = ""
    # Injected faults, used up in order before calls of a method succeed again: an HTTP status
    # with its JSON body, ("slow", seconds) before answering normally, or ("drop",) to cut the
    # connection without an answer. A call that fails this way has no effect.
    faults: dict[str, list[tuple]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)  # chats whose user blocked the bot: sends get 403
    admins: dict[int, set[int]] = field(default_factory=dict)  # group -> its administrators

    def __post_init__(self):
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._pushed = 0  # the last update id handed to the bot's queue
        self._confirmed = 0  # the highest offset a getUpdates has asked from

    # ---- server -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self.base_url

    async def stop(self) -> None:
        self._wake()
        if self._runner:
            await self._runner.cleanup()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        params = {}
        for key, value in (await request.post()).items():
            if key in RAW_FIELDS or not isinstance(value, str):
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.match_info["token"]
        if token != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        pending = self.faults.get(method)
        fault = pending.pop(0) if pending else None
        if fault and fault[0] == "drop":
            request.transport.abort()
            return web.Response()
        if fault and fault[0] == "slow":
            await asyncio.sleep(fault[1])
        elif fault:
            return web.json_response(fault[1], status=fault[0])
        if method == "sendMessage" and int(params.get("chat_id", 0)) in self.blocked:
            forbidden = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            return web.json_response(forbidden, status=403)
        if method != "getUpdates":
            self.calls.append(Call(method, params, token))
            self._wake()
        handler = getattr(self, f"_{method}", None)
        result = await handler(params) if handler else True
        return web.json_response({"ok": True, "result": result})

    # ---- Bot API methods ----------------------------------------------------------------
    async def _getMe(self, params):
        return BOT

    async def _getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        self._confirmed = max(self._confirmed, offset)
        self._wake()
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self.updates and time.monotonic() < deadline:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self.updates[: int(params.get("limit") or 100)]

    def _message(self, chat_id: int, text: str, params: dict) -> dict:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "from": BOT,
            "chat": self.chats.get(int(chat_id), {"id": int(chat_id), "type": "private"}),
            "text": text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _getChatMember(self, params):
        user = self.user(int(params["user_id"]))
        if int(params["user_id"]) in self.admins.get(int(params["chat_id"]), set()):
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": "member", "user": user}

    async def _sendMessage(self, params):
        return self._message(params["chat_id"], params["text"], params)

    # ---- what a test does -----------------------------------------------------------------
    def _push(self, update: dict) -> None:
        update["update_id"] = self._pushed = next(self._ids)
        self.updates.append(update)
        self._wake()

    def user(self, user_id: int, language_code: str = "en") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": language_code}

    def send(self, text: str, user_id: int = 1001, **kwargs) -> dict:
        """A user's text message, queued for getUpdates (arguments as for `message`)."""
        message = self.message(text, user_id, **kwargs)
        self._push({"message": message})
        return message

    def message(
        self,
        text: str,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to: dict | None = None,
        language_code: str = "en",
    ) -> dict:
        """A user's text message as Telegram describes it; commands and @mentions get their
        entities as Telegram would."""
        chat_id = chat_id if chat_id is not None else user_id
        chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Test group"
        self.chats[chat_id] = chat
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user_id, language_code),
            "text": text,
        }
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        mention = "@" + BOT["username"]
        if mention in text:
            at = text.index(mention)
            # Telegram counts offsets in UTF-16 units
            entities.append(
                {"type": "mention", "offset": len(text[:at].encode("utf-16-le")) // 2, "length": len(mention)}
            )
        if entities:
            message["entities"] = entities
        if reply_to:
            message["reply_to_message"] = reply_to
        return message

    def inline(self, query: str, user_id: int = 1001, language_code: str = "en") -> None:
        """A user typing "@bot query" in any chat."""
        self._push(
            {
                "inline_query": {
                    "id": f"iq{next(self._ids)}",
                    "from": self.user(user_id, language_code),
                    "query": query,
                    "offset": "",
                }
            }
        )

    def press(self, message: dict, data: str, user_id: int = 1001) -> None:
        """A user pressing an inline button under one of the bot's messages."""
        self._push(
            {
                "callback_query": {
                    "id": f"cb{next(self._ids)}",
                    "from": self.user(user_id),
                    "chat_instance": "ci",
                    "message": message,
                    "data": data,
                }
            }
        )

    def inline_query(self, query: str, user_id: int = 1001) -> None:
        self._push(
            {"inline_query": {"id": f"iq{next(self._ids)}", "from": self.user(user_id), "query": query, "offset": ""}}
        )

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 30.0, since: int = 0, where=lambda call: True
    ) -> list[Call]:
        """The first `count` calls of `method` after position `since`, waiting for them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls[since:] if c.method == method and where(c)]
            if len(found) >= count:
                return found[:count]
            if time.monotonic() > deadline:
                seen = [(c.method, str(c.params.get("text", ""))[:60]) for c in self.calls[since:]]
                raise AssertionError(f"expected {count} {method} call(s), got {len(found)}; calls: {seen}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), min(0.5, max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                pass

    def fail(self, method: str, *faults: tuple) -> None:
        self.faults.setdefault(method, []).extend(faults)

    async def delivered(self, timeout: float = 30.0) -> None:
        """Wait until the bot has taken every update sent so far into its queue: PTB asks for
        a later offset only after queueing what the previous getUpdates returned."""
        deadline = time.monotonic() + timeout
        while self._confirmed <= self._pushed:
            if time.monotonic() > deadline:
                raise AssertionError(f"updates up to {self._pushed} sent, only {self._confirmed - 1} confirmed")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), 0.5)
            except TimeoutError:
                pass
