"""A transparent RADIUS/UDP relay on loopback for the integration tests.

It forwards datagrams unchanged between one client (eapol_test) and the server, so every
authenticator and Message-Authenticator stays valid (the server sees 127.0.0.1 as before),
and it records what passed: for each conversation, how many Access-Requests the client
sent before the server's final answer, and which answer it was. `before_first_accept` runs
in the relay thread while the first Access-Accept is held back: the test can change the
server's state (revoke the certificate) between a peer's authentication and its
re-authentication, which eapol_test -r runs back to back. With `silent_after=N` it
forwards the client's first N distinct Access-Requests and drops everything after them:
a peer that goes silent half-way through its handshake.
"""

import select
import socket
import threading

ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3


class RadiusRelay:
    def __init__(self, server_port, before_first_accept=None, silent_after=None):
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.back.connect(("127.0.0.1", server_port))
        self.before_first_accept = before_first_accept
        self.silent_after = silent_after
        self._seen = set()  # every distinct request so far, for silent_after
        self.conversations = []  # [(requests sent, final code)] in order
        self.errors = []
        self._requests = set()  # distinct (identifier, authenticator): retransmissions count once
        self._client = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        self.front.close()
        self.back.close()

    def _run(self):
        held_first = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for sock in ready:
                data, source = sock.recvfrom(8192)
                if len(data) < 20:
                    continue
                if sock is self.front:
                    self._client = source
                    if data[0] == ACCESS_REQUEST:
                        self._requests.add((data[1], data[4:20]))
                        self._seen.add((data[1], data[4:20]))
                    if self.silent_after is None or len(self._seen) <= self.silent_after:
                        self.back.send(data)
                    continue
                code = data[0]
                if code in (ACCESS_ACCEPT, ACCESS_REJECT):
                    if code == ACCESS_ACCEPT and not held_first and self.before_first_accept is not None:
                        held_first = True
                        try:
                            self.before_first_accept()
                        except Exception as e:  # reported by the test, never swallowed
                            self.errors.append(repr(e))
                    if self._requests:  # a duplicate answer to a retransmission is not a new conversation
                        self.conversations.append((len(self._requests), code))
                        self._requests = set()
                if self._client is not None:
                    self.front.sendto(data, self._client)
