"""A connection of the generator: the socket, RFC 6455 framing, the reader, reconnects,
and the client wrapper that reports each exchange to Locust.
"""
