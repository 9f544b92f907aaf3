"""TLS for the harness's clients (``flood.py --tls``): a socket look-alike over
an ``ssl.SSLObject`` and two memory BIOs, non-blocking like every harness
socket, and the throwaway certificate the server is started with.

`TlsSocket` gives `swarm` what it calls on a socket (``recv_into``, ``send``,
``fileno``; the rest is the TCP socket's): ``recv_into`` answers plaintext,
or raises BlockingIOError while a handshake or a record is incomplete;
``send`` takes plaintext whole (sealed at once: one record per call) unless
ciphertext is still waiting for the kernel (then BlockingIOError, and
`backlog` says the socket wants write readiness). The join line written before
the handshake is done waits in `early`, sent right after it.
"""
import os
import ssl
import subprocess
from typing import Tuple

#: A read takes at most this much less than its buffer from the kernel, so the
#: plaintext of everything complete it brings (with a record begun before it)
#: always fits the buffer: nothing is left decrypted where select() cannot see it.
RECORD_ROOM = 17 * 1024


class TlsSocket:
    __slots__ = ("sock", "backlog", "early", "shaken", "_in", "_out", "_obj")

    def __init__(self, sock, context: ssl.SSLContext) -> None:
        self.sock = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._in, self._out, server_hostname="localhost")
        self.backlog = b""  # ciphertext the kernel did not take yet
        self.early = bytearray()  # plaintext written before the handshake was done
        self.shaken = False
        self._step()

    def fileno(self) -> int:
        return self.sock.fileno()

    def __getattr__(self, name: str):
        return getattr(self.sock, name)

    def _step(self) -> None:
        try:
            self._obj.do_handshake()
            self.shaken = True
        except ssl.SSLWantReadError:
            pass
        self.backlog += self._out.read()
        if self.shaken and self.early:
            self._obj.write(bytes(self.early))
            self.early.clear()
            self.backlog += self._out.read()
        self._push()

    def _push(self) -> None:
        if self.backlog:
            try:
                sent = self.sock.send(self.backlog)
            except (BlockingIOError, InterruptedError):
                sent = 0
            self.backlog = self.backlog[sent:]

    def send(self, data) -> int:
        self._push()
        if not data:
            return 0
        if self.backlog:
            raise BlockingIOError
        if not self.shaken:
            self.early += data
            return len(data)
        self._obj.write(data)
        self.backlog = self._out.read()
        self._push()
        return len(data)

    def recv_into(self, view) -> int:
        size = len(view)
        n = self.sock.recv_into(view, max(1, size - RECORD_ROOM))
        if not n:
            return 0
        incoming = self._in
        incoming.write(view[:n])
        if not self.shaken:
            self._step()
            if not self.shaken:
                raise BlockingIOError
        got, read = 0, self._obj.read
        # While ciphertext is left in the BIO (one failed read at most, for a
        # record not complete yet: an exception per read would cost the
        # harness as much as the decryption).
        while incoming.pending and got < size:
            try:
                part = read(size - got, view[got:])
            except ssl.SSLWantReadError:
                break
            if not part:  # close_notify
                if not got:
                    return 0
                break
            got += part
        if not got:
            raise BlockingIOError
        return got


def client_context() -> ssl.SSLContext:
    """The harness trusts any certificate: the bench measures the server's TLS,
    not certificate checking on loopback."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


#: ``openssl req -newkey`` arguments for each key type `make_certificate` knows.
KEY_TYPES = {"ec": ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"], "rsa": ["rsa:2048"]}


def make_certificate(folder: str, key_type: str = "ec") -> Tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: its (cert, key) PEM files, made
    by ``openssl``. ECDSA P-256 by default (what Let's Encrypt issues by default
    today); ``"rsa"``: RSA 2048."""
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", *KEY_TYPES[key_type],
                    "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key
