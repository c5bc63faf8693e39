"""A loopback SMTP server for tests: it keeps every message it accepts.

It speaks just enough SMTP (RFC 5321) for `smtplib`: EHLO/HELO, MAIL, RCPT, DATA (with dot
un-stuffing), RSET, NOOP, QUIT; it offers no STARTTLS and no AUTH. `refuse_recipients` makes it
answer every RCPT with a 550, as a server that does not know the mailbox would.

    with SmtpSink() as sink:
        ...send to sink.url (smtp://127.0.0.1:PORT)...
        sink.messages[0]["Subject"]
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, cast

REFUSAL = "550 5.1.1 No such mailbox here"


@dataclass(frozen=True)
class Captured:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None, "the message has a plain-text body"
        return str(cast(EmailMessage, body).get_content())


@dataclass
class SmtpSink:
    refuse_recipients: bool = False
    messages: list[Captured] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: socketserver.ThreadingTCPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the sink is started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def received(self) -> list[Captured]:
        with self._lock:
            return list(self.messages)

    def start(self) -> SmtpSink:
        sink = self

        class Session(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                sink._converse(self.rfile, self.wfile)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self._server.daemon_threads = True  # a session left open never holds up the test's end
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"smtp-sink:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _converse(self, rfile: Any, wfile: Any) -> None:
        def reply(line: str) -> None:
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        reply("220 smtp-sink ESMTP ready")
        mail_from: str | None = None
        recipients: list[str] = []
        while True:
            raw = rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                reply("250-smtp-sink greets you")
                reply("250-8BITMIME")
                reply("250 SIZE 10485760")
            elif verb == "HELO":
                reply("250 smtp-sink")
            elif verb == "MAIL" and argument.upper().startswith("FROM:"):
                mail_from, recipients = _address(argument), []
                reply("250 2.1.0 OK")
            elif verb == "RCPT" and argument.upper().startswith("TO:"):
                if mail_from is None:
                    reply("503 5.5.1 MAIL first")
                elif self.refuse_recipients:
                    reply(REFUSAL)
                else:
                    recipients.append(_address(argument))
                    reply("250 2.1.5 OK")
            elif verb == "DATA":
                if mail_from is None or not recipients:
                    reply("503 5.5.1 RCPT first")
                    continue
                reply("354 End data with <CR><LF>.<CR><LF>")
                body = _read_data(rfile)
                message = cast(EmailMessage, message_from_bytes(body, policy=policy.default))
                with self._lock:
                    self.messages.append(Captured(mail_from, tuple(recipients), message))
                mail_from, recipients = None, []
                reply("250 2.0.0 Queued")
            elif verb == "RSET":
                mail_from, recipients = None, []
                reply("250 2.0.0 OK")
            elif verb == "NOOP":
                reply("250 2.0.0 OK")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Command not implemented")


def _address(argument: str) -> str:
    """The address in `FROM:<a@b> SIZE=…` or `TO:<a@b>`."""
    value = argument.partition(":")[2].strip()
    if value.startswith("<"):
        return value[1 : value.find(">")]
    return value.split(" ")[0]


def _read_data(rfile: Any) -> bytes:
    lines = []
    while True:
        raw = rfile.readline()
        if not raw or raw in (b".\r\n", b".\n"):
            break
        # Dot-stuffing (RFC 5321 4.5.2): a line starting with "." was sent with one more.
        lines.append(raw[1:] if raw.startswith(b"..") else raw)
    return b"".join(lines)
