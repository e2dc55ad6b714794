"""``GET`` on a single Redis server without redis-py's command layer: the L2 hit's round trip.

An L2 hit is one ``GET``, and through ``redis.asyncio.Redis.get`` a small ``GET`` spends about a
third of its time outside the socket: the pool's lock and bookkeeping, packing the command, the
retry wrapper and redis-py's observability hooks. `DirectGet` packs ``GET <key>`` itself and
writes it on a connection taken from its own stack of idle connections (made by the client's
pool, so they connect, authenticate, select the database and parse replies exactly as the
client's do; hiredis when installed). It is the approach of the rate limiter's Redis backend.

What redis-py still does here: a connection that fails, or whose call is cancelled (the engine's
per-call deadline), disconnects itself and reconnects on its next use, and a connection idle for
the client's ``health_check_interval`` is pinged before reuse. What `DirectGet` adds: a
connection the server closed while it sat idle (a Redis restart, an idle timeout) is reopened and
the ``GET`` sent again, once, as the client's own retry would. Used only for a plain single-server
client without a connection cap; a Redis Cluster client or a capped pool keeps ``client.get``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DirectGet", "pack_get"]


def pack_get(key: str) -> bytes:
    """``GET key`` in RESP (an array of two bulk strings).

    Args:
        key: The Redis key.

    Returns:
        The bytes to write on the connection.
    """
    encoded = key.encode("utf-8")
    return b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(encoded), encoded)


class DirectGet:
    """``GET`` on connections from ``pool`` kept on an idle stack (one per call in flight).

    Args:
        pool: The ``redis.asyncio.ConnectionPool`` whose ``make_connection`` makes connections.
        connection_error: redis-py's ``ConnectionError`` (a dead connection raises it).
    """

    __slots__ = ("_connection_error", "_idle", "_pool")

    def __init__(self, pool: Any, connection_error: type[BaseException]) -> None:
        self._pool = pool
        self._connection_error = connection_error
        self._idle: list[Any] = []

    @property
    def idle(self) -> int:
        """How many connections wait for the next call."""
        return len(self._idle)

    async def get(self, key: str) -> bytes | None:
        """The value of ``key`` (``None`` if it does not exist); raises like ``client.get``."""
        packed = pack_get(key)
        idle = self._idle
        connection = idle.pop() if idle else self._pool.make_connection()
        was_open = connection.is_connected
        try:
            try:
                await connection.send_packed_command(packed)
                value: bytes | None = await connection.read_response()
            except self._connection_error:
                if not was_open:
                    raise
                # Closed by the server while idle: the connection reconnects on this send.
                await connection.send_packed_command(packed)
                value = await connection.read_response()
        finally:
            # A connection that failed or was cancelled has disconnected itself and reconnects
            # on its next use, so it goes back on the stack either way.
            idle.append(connection)
        return value

    async def close(self) -> None:
        """Disconnect the idle connections (calls in flight disconnect theirs when they fail)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
