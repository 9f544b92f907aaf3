"""TLS contexts made from PEM files (`Certificates`, which SIGHUP reloads), and
TLS as a sans-I/O layer: `TlsLayer`, an ``ssl.SSLObject`` between two
``ssl.MemoryBIO`` (as CPython's ``asyncio/sslproto.py`` does it).

Nothing here touches a socket: ciphertext goes in with `TlsLayer.feed` and
comes out of `TlsLayer.take_output`; plaintext comes out of `read_into` and
goes in through `seal`. The server itself runs OpenSSL on its sockets, which
costs less per write (`selchat.tls_port`, the loop's side); `TlsLayer` is for
clients that bring their own I/O (the tests' TLS peers).
"""
import ssl
from typing import Optional, Union

Buffer = Union[bytes, memoryview]

#: TLS 1.2 and 1.3 only; no renegotiation (a client could make the server
#: redo the expensive part of a handshake at will), no compression (CRIME).
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
OPTIONS = ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION


class CertificateProblem(Exception):
    """A certificate or key that cannot be used: the message names the file."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for the PEM certificate (chain) `cert` and key `key`."""
    _check_pem(cert, b"-----BEGIN CERTIFICATE-----", "certificate")
    _check_pem(key, b"PRIVATE KEY-----", "private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.options |= OPTIONS
    # No TLS 1.3 session tickets: chat connections are long-lived, and each
    # ticket costs a sealing and bytes for every handshake.
    context.num_tickets = 0
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise CertificateProblem(
            f"{key}: the key cannot be used with {cert} ({exc.reason or exc})") from None
    return context


def client_context(ca: Optional[str] = None, insecure: bool = False) -> ssl.SSLContext:
    """A client context: the system's CA store, or the PEM file `ca`; `insecure`
    checks nothing (a test server with a throwaway certificate)."""
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = MINIMUM_VERSION
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _check_pem(path: str, marker: bytes, what: str) -> None:
    try:
        with open(path, "rb") as file:
            text = file.read()
    except OSError as exc:
        raise CertificateProblem(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if marker not in text:
        raise CertificateProblem(f"{path}: no PEM {what} in it")


class Certificates:
    """The server's current context; `reload` (SIGHUP) swaps it for new
    connections only: those already made keep the one they shook hands with."""

    def __init__(self, cert: str, key: str) -> None:
        self.cert, self.key = cert, key
        self.context = server_context(cert, key)

    def reload(self) -> Optional[str]:
        """Read the files again: None if done, else why the old ones stay."""
        try:
            self.context = server_context(self.cert, self.key)
        except CertificateProblem as exc:
            return str(exc)
        return None


class TlsLayer:
    """One connection's TLS state: ciphertext in and out, plaintext in and out."""

    __slots__ = ("_object", "_incoming", "_outgoing")

    def __init__(self, context: ssl.SSLContext, server_side: bool = True,
                 server_hostname: Optional[str] = None) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side,
                                        server_hostname=server_hostname)

    def feed(self, ciphertext: Buffer) -> None:
        """Bytes read from the peer."""
        self._incoming.write(ciphertext)

    def handshake(self) -> bool:
        """One step of the handshake, with what was fed: True once it is done.
        Raises ``ssl.SSLError`` if the peer cannot be talked to (its output,
        an alert, may still be worth sending)."""
        try:
            self._object.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def read_into(self, buffer: memoryview, size: int) -> int:
        """Decrypt up to `size` bytes of what was fed into `buffer`: the bytes
        written (0: no complete record yet). Raises ``ssl.SSLZeroReturnError``
        when the peer said close_notify, another ``ssl.SSLError`` if the
        bytes are not TLS."""
        done = 0
        read = self._object.read
        while done < size:
            try:
                got = read(size - done, buffer[done:])  # with a buffer: a count
            except ssl.SSLWantReadError:
                break
            if not got:  # the peer said close_notify: nothing more will come
                if done:
                    break  # said on the next call
                raise ssl.SSLZeroReturnError("close_notify")
            done += int(got)  # type: ignore[arg-type]
        return done

    def more(self) -> bool:
        """Whether plaintext may be waiting without the socket being readable:
        decrypted already, or whole records fed and not yet read."""
        return self._object.pending() > 0 or self._incoming.pending > 0

    def seal(self, plaintext: Buffer) -> bytes:
        """`plaintext` as records for the peer (with any output owed before them)."""
        self._object.write(plaintext)
        return self._outgoing.read()

    def take_output(self) -> bytes:
        """Ciphertext owed to the peer (handshake messages, alerts, close_notify)."""
        return self._outgoing.read()

    def close(self) -> bytes:
        """The close_notify alert to send before closing."""
        try:
            self._object.unwrap()
        except ssl.SSLError:  # SSLWantReadError: the peer's close_notify is not awaited
            pass
        return self._outgoing.read()

    @property
    def version(self) -> Optional[str]:
        return self._object.version()
