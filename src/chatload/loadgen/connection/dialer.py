"""Opening the generator's TCP connections: from which local address, and what
went wrong when one cannot be opened.

- The server's address is resolved once per run, not once per connection: a
  connection storm should not queue behind the resolver.
- ``--source-addresses`` spreads connections over local addresses, one after
  the other. Each (local address, server address) pair has its own range of
  ephemeral ports (about 28,000 on Linux), so N addresses hold N times the
  connections to one server. The port is picked at ``connect`` time
  (``IP_BIND_ADDRESS_NO_PORT``), not at ``bind``, so ports are shared across
  servers as the kernel allows.
- A connection the generator cannot open because of its own limits (no file
  descriptor left, no free local port) is a :class:`GeneratorLimit`: a failure
  kind of its own, with the fix in its message, never a traceback.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import socket
from collections.abc import Iterator
from typing import Final

from chatload.errors import AwaitTimeout, ConfigError, GeneratorLimit, ServerUnreachable

__all__ = ["Dialer", "parse_source_addresses"]

# Linux's IP_BIND_ADDRESS_NO_PORT (24), absent from Python's socket module.
_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
_MAX_SOURCES: Final = 65_536
_OUT_OF_FILES: Final = frozenset((errno.EMFILE, errno.ENFILE))
_OUT_OF_PORTS: Final = frozenset((errno.EADDRNOTAVAIL, errno.EADDRINUSE))
_OUT_OF_MEMORY: Final = frozenset((errno.ENOBUFS, errno.ENOMEM))


def parse_source_addresses(text: str) -> tuple[str, ...]:
    """``127.0.0.1-127.0.0.16``, ``10.0.0.5,10.0.0.6`` or both, as a list of
    addresses (one family); empty: let the kernel choose."""
    addresses: list[str] = []
    for part in text.replace(",", " ").split():
        first, _, last = part.partition("-")
        try:
            start = ipaddress.ip_address(first)
            end = ipaddress.ip_address(last) if last else start
        except ValueError:
            raise ConfigError(
                f"--source-addresses: {part!r} is not an address or a range such as "
                "127.0.0.1-127.0.0.16"
            ) from None
        if start.version != end.version or int(end) < int(start):
            raise ConfigError(
                f"--source-addresses: {part!r} must go from a lower to a higher address "
                "of one family"
            )
        if int(end) - int(start) + len(addresses) >= _MAX_SOURCES:
            raise ConfigError(f"--source-addresses: more than {_MAX_SOURCES} addresses")
        family = type(start)
        addresses.extend(str(family(n)) for n in range(int(start), int(end) + 1))
    families = {ipaddress.ip_address(address).version for address in addresses}
    if len(families) > 1:
        raise ConfigError("--source-addresses: give addresses of one family (IPv4 or IPv6)")
    return tuple(addresses)


def limit_error(code: int | None, target: str) -> GeneratorLimit | None:
    """The generator's own limit behind an OS error, said with its fix."""
    if code in _OUT_OF_FILES:
        return GeneratorLimit(
            "generator_limit: this process has no file descriptor left (EMFILE): raise "
            "the open-file limit (ulimit -n) or spread the users over more processes "
            "(--processes N, or workers on other machines)"
        )
    if code in _OUT_OF_PORTS:
        return GeneratorLimit(
            f"generator_limit: no free local port towards {target} (EADDRNOTAVAIL): add "
            "local addresses with --source-addresses (e.g. 127.0.0.1-127.0.0.4 on loopback) "
            "or run workers on more machines"
        )
    if code in _OUT_OF_MEMORY:
        return GeneratorLimit(
            "generator_limit: the kernel has no socket buffer memory left (ENOBUFS): "
            "lower the users of this process or raise net.ipv4.tcp_mem"
        )
    return None


class Dialer:
    """TCP connections to one server, spread over the source addresses."""

    def __init__(
        self, host: str, port: int, sources: tuple[str, ...] = (), *, label: str = ""
    ) -> None:
        self.host = host
        self.port = port
        self.sources = sources
        self.label = label or f"{host}:{port}"  # how messages name the server (its URL)
        self._next_source: Iterator[str] | None = itertools.cycle(sources) if sources else None
        self._address: tuple[int, tuple[str, int]] | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def address(self) -> tuple[int, tuple[str, int]]:
        """The server's address family and address, resolved on first use."""
        if self._address is None:
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise ServerUnreachable(f"cannot resolve {self.host}: {exc}") from None
            if self.sources:
                want = ipaddress.ip_address(self.sources[0]).version
                family = socket.AF_INET if want == 4 else socket.AF_INET6
                infos = [info for info in infos if info[0] == family] or infos
            family, _, _, _, address = infos[0]
            self._address = (family, (str(address[0]), int(address[1])))
        return self._address

    def check_sources(self) -> None:
        """Every source address must be an address of this machine: one line if not."""
        for source in self.sources:
            family = socket.AF_INET6 if ":" in source else socket.AF_INET
            probe = socket.socket(family, socket.SOCK_STREAM)
            try:
                probe.bind((source, 0))
            except OSError as exc:
                raise ConfigError(
                    f"--source-addresses: {source} is not an address of this machine "
                    f"({exc.strerror}): add it to an interface, or on loopback use 127.0.0.x"
                ) from None
            finally:
                probe.close()

    def connect(self, timeout: float) -> socket.socket:
        """A connected TCP socket (blocking, with ``timeout``), Nagle off."""
        family, address = self.address()
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise limit_error(exc.errno, self.target) or ServerUnreachable(
                f"cannot open a socket: {exc}"
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._next_source is not None:
                if family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
                sock.bind((next(self._next_source), 0))
            sock.settimeout(timeout)
            sock.connect(address)
        except TimeoutError:
            sock.close()
            raise AwaitTimeout(
                f"timeout: no TCP connection to {self.target} in {timeout} s"
            ) from None
        except ConnectionRefusedError:
            sock.close()
            raise ServerUnreachable(f"nothing accepts connections at {self.label}") from None
        except OSError as exc:
            sock.close()
            raise limit_error(exc.errno, self.target) or ServerUnreachable(
                f"cannot connect to {self.label}: {exc.strerror or exc}"
            ) from None
        return sock
