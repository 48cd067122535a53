"""The portal's Redis clients ride through a restart (app.redis_clients): a Redis that answers
LOADING while it reads its data back is asked again; one that drops the connection is not."""

from __future__ import annotations

import socket
import threading

import pytest
import redis

from app import redis_clients


class FakeRedis:
    """A loopback server speaking just enough RESP3 for a GET: the first ``loading`` GETs are
    answered ``-LOADING`` (as a restarting Redis answers), the later ones with a value; with
    ``drop`` it closes every connection at once (a Redis that went away)."""

    def __init__(self, *, loading: int = 0, drop: bool = False):
        self.loading, self.drop = loading, drop
        self.connections = self.gets = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.drop:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        stream = conn.makefile("rb")
        with conn, stream:
            while line := stream.readline():
                args = [stream.readline() and stream.readline().rstrip(b"\r\n")
                        for _ in range(int(line[1:]))]
                conn.sendall(self._answer(args[0].upper()))

    def _answer(self, command: bytes) -> bytes:
        if command == b"HELLO":
            return b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
        if command == b"GET":
            self.gets += 1
            if self.gets <= self.loading:
                return b"-LOADING Redis is loading the dataset in memory\r\n"
            return b"$5\r\nvalue\r\n"
        return b"+OK\r\n"

    def close(self):
        self.listener.close()


@pytest.fixture
def fake():
    servers = []

    def start(**kwargs):
        servers.append(FakeRedis(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_command_waits_while_redis_loads_its_data(fake):
    server = fake(loading=3)
    assert redis_clients.client(server.url, timeout=2).get("k") == b"value"
    assert server.gets == 4  # three LOADING answers, then the value


def test_a_plain_client_gives_up_at_the_first_loading_answer(fake):
    server = fake(loading=1)  # why the portal's clients are made by app.redis_clients
    with pytest.raises(redis.exceptions.BusyLoadingError):
        redis.Redis.from_url(server.url, socket_timeout=2).get("k")


def test_loading_for_longer_than_the_retries_is_an_error(fake):
    server = fake(loading=redis_clients.LOADING_RETRIES + 1)
    with pytest.raises(redis.exceptions.BusyLoadingError):
        redis_clients.client(server.url, timeout=2).get("k")
    assert server.gets == redis_clients.LOADING_RETRIES + 1


def test_a_dropped_connection_is_not_retried(fake):
    server = fake(drop=True)  # callers fall back at once (sessions, cache, limits): no waiting here
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_clients.client(server.url, timeout=2).get("k")
    assert server.connections == 1


def test_no_timeout_leaves_the_socket_blocking():
    assert "socket_timeout" not in redis_clients.options(None)
    assert redis_clients.options(0.5)["socket_timeout"] == 0.5
