"""The reference chat server: asyncio, websockets sans-I/O, SQLite."""
