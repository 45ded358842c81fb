"""Stable loopback endpoints: one listening port per identifier (and per RDS
Proxy; an instance identifier also listens on its own address, see
world.endpoint_address), forwarding each new connection to the endpoint's current target (a
real PostgreSQL port). Retargeting drops the connections made through it.

One acceptor thread serves every listener (selectors); each accepted
connection gets two small pump threads.
"""
import logging
import selectors
import socket
import threading
import time

log = logging.getLogger("awssim.proxy")


class Endpoint:
    def __init__(self, hub, port, name, host="127.0.0.1"):
        self.hub, self.port, self.name, self.host = hub, port, name, host
        self.target = None          # real port or None (connection closed at once)
        self.pin_target = None      # DNS lag: keep this target until pin_until
        self.pin_until = 0.0
        self.last_real = None       # the last server this name reached (what a DNS cache still holds)
        self.conns = set()
        self.lock = threading.RLock()
        self.sock = None
        self.extra = {}             # (host, port) -> socket: more listeners with this target (own address)

    def listen(self):
        self.sock = _listener(self.host, self.port)
        self.port = self.sock.getsockname()[1]
        return self

    def effective(self):
        if self.pin_until and time.monotonic() < self.pin_until:
            return self.pin_target
        return self.target

    def set_target(self, target):
        with self.lock:
            before = self.effective()
            self.target = target
            after = self.effective()
            if after is not None:
                self.last_real = after
            if before != after:
                self._drop()

    def pin(self, target, seconds):
        """Keep answering with `target` for `seconds` real seconds (RDS DNS lag)."""
        with self.lock:
            before = self.effective()
            self.pin_target = target
            self.pin_until = time.monotonic() + seconds
            if target is not None:
                self.last_real = target
            if before != self.effective():
                self._drop()

    def unpin_if_due(self):
        with self.lock:
            if self.pin_until and time.monotonic() >= self.pin_until:
                before = self.pin_target
                self.pin_until = 0.0
                self.pin_target = None
                if before != self.target:
                    self._drop()

    def drop(self):
        with self.lock:
            self._drop()

    def _drop(self):
        for c in list(self.conns):
            c.close()
        self.conns.clear()

    def close(self):
        self.drop()
        for s in [self.sock, *self.extra.values()]:
            if s:
                try:
                    s.close()
                except OSError:
                    pass
        self.sock = None
        self.extra = {}


def _listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(128)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


class _Conn:
    def __init__(self, ep, client, backend):
        self.ep, self.client, self.backend = ep, client, backend
        self.closed = False

    def start(self):
        threading.Thread(target=self._pump, args=(self.client, self.backend), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.backend, self.client), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.backend):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        with self.ep.lock:
            self.ep.conns.discard(self)


class ProxyHub:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.eps = {}            # port -> Endpoint
        self.lock = threading.RLock()
        self.stopped = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._loop, name="proxy-accept", daemon=True)
        self.thread.start()

    def open(self, port, name, host="127.0.0.1"):
        """Listen on `port` (0 = any free one) of loopback address `host`. Returns
        the Endpoint or raises OSError. Endpoints on 127.0.0.1 are keyed by port,
        others (an Aurora reader endpoint on 127.0.0.2) by (host, port)."""
        with self.lock:
            key = port if host == "127.0.0.1" else (host, port)
            if port and key in self.eps:
                ep = self.eps[key]
                ep.name = name
                return ep
            ep = Endpoint(self, port or 0, name, host).listen()
            self.eps[ep.port if host == "127.0.0.1" else (host, ep.port)] = ep
            self.sel.register(ep.sock, selectors.EVENT_READ, ep)
            self._wake()
            return ep

    def get(self, port):
        return self.eps.get(port)

    def listen_also(self, ep, host, port):
        """Let endpoint `ep` accept on (host, port) too (same target, same
        drops): an identifier's own address. Raises OSError (the caller picks
        another address); a listener already there is kept."""
        with self.lock:
            if (host, port) in ep.extra:
                return
            s = _listener(host, port)
            ep.extra[(host, port)] = s
            self.sel.register(s, selectors.EVENT_READ, ep)
            self._wake()

    def unlisten_extra(self, ep):
        """Close every extra listener of `ep` (its address moves elsewhere)."""
        with self.lock:
            for s in ep.extra.values():
                try:
                    self.sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                try:
                    s.close()
                except OSError:
                    pass
            ep.extra = {}

    def close_port(self, port):
        with self.lock:
            ep = self.eps.pop(port, None)
            if ep:
                for s in [ep.sock, *ep.extra.values()]:
                    try:
                        self.sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
                ep.close()
                self._wake()

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _loop(self):
        while not self.stopped.is_set():
            try:
                events = self.sel.select(timeout=0.5)
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            for key, _ in events:
                ep = key.data
                if ep is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                try:
                    client, _addr = key.fileobj.accept()
                except (BlockingIOError, OSError, AttributeError):
                    continue
                threading.Thread(target=self._connect, args=(ep, client), daemon=True).start()
            for ep in list(self.eps.values()):
                if ep.pin_until:
                    ep.unpin_if_due()

    def _connect(self, ep, client):
        client.setblocking(True)
        target = ep.effective()
        if not target:
            client.close()
            return
        try:
            backend = socket.create_connection(("127.0.0.1", target), timeout=10)
            backend.settimeout(None)
        except OSError:
            client.close()
            return
        for s in (client, backend):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = _Conn(ep, client, backend)
        with ep.lock:
            if ep.effective() != target:
                c.closed = True
                client.close()
                backend.close()
                return
            ep.conns.add(c)
        c.start()

    def close_all(self):
        self.stopped.set()
        self._wake()
        with self.lock:
            for port in list(self.eps):
                self.close_port(port)
