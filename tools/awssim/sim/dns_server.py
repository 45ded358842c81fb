"""The emulator's DNS server (Debian's python3-dnslib): UDP and TCP on one
loopback port, authoritative for every live hosted zone (route53.py's
`served` view: a change shows here only once it is INSYNC) and for the RDS
endpoint names in `DnsServer.names` (name -> IPv4 address, TTL 5 s, as RDS
answers; the RDS side fills it).

Answers as an authoritative server gives them: the record set with its
TTL; a CNAME followed (up to 8 links) while its target is a name this
server knows, the rcode that of the last name; NOERROR with no answer and
the zone's SOA in the authority section for a name that exists without the
type (or an empty non-terminal); NXDOMAIN with the SOA for a name that does
not exist in its zone; REFUSED for a name in no zone. The port is kept in
HOME/dns.port so a restarted emulator answers on the same port.
"""
import logging
import os
import threading

from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSError
from dnslib.server import DNSHandler, DNSLogger, DNSServer, UDPServer

from . import route53

log = logging.getLogger("awssim.dns")

RDS_TTL = 5
MAX_CHAIN = 8


def rdata(typ, value):
    """The dnslib record data of one Route 53 value, or None for a type not served."""
    v = value.strip()
    if typ == "A":
        return A(v)
    if typ == "AAAA":
        return AAAA(v)
    if typ in ("CNAME", "NS", "PTR"):
        return {"CNAME": CNAME, "NS": NS, "PTR": PTR}[typ](route53.norm(v))
    if typ in ("TXT", "SPF"):
        return TXT([s.encode() for s in route53.txt_strings(v)])
    if typ == "MX":
        pref, host = v.split(None, 1)
        return MX(route53.norm(host), int(pref))
    if typ == "SRV":
        prio, weight, port, target = v.split()
        return SRV(int(prio), int(weight), int(port), route53.norm(target))
    if typ == "SOA":
        mname, rname, *times = v.split()
        return SOA(mname, rname, tuple(int(t) for t in times))
    return None


class _Quiet(DNSLogger):
    def __init__(self):
        super().__init__("-recv,-send,-request,-reply,-truncated,-data,-error")

    def log_error(self, handler, e):
        log.debug("dns request error from %s: %s", handler.client_address, e)


class _Handler(DNSHandler):
    """UDP answers fit 512 bytes, or the client's EDNS payload size (TC otherwise)."""

    def get_reply(self, data):
        from dnslib import DNSRecord
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        rdata_ = reply.pack()
        if self.protocol == "udp":
            limit = 512
            for ar in request.ar:
                if ar.rtype == QTYPE.OPT:
                    limit = max(512, min(4096, ar.rclass))
            if len(rdata_) > limit:
                rdata_ = reply.truncate().pack()
        return rdata_


class _Udp(UDPServer):
    """No SO_REUSEADDR: another server's UDP port is never shared."""

    def server_bind(self):
        self.allow_reuse_address = False
        super().server_bind()


class DnsServer:
    def __init__(self, world, host, port, port_file=None):
        self.world = world
        self.names = {}               # RDS endpoint names: fqdn -> IPv4 address
        self.lock = threading.Lock()
        self.port_file = port_file
        host = "127.0.0.1" if host == "localhost" else host
        if not port and port_file and os.path.exists(port_file):
            try:
                with open(port_file) as f:
                    saved = int(f.read().strip() or 0)
                self._bind(host, saved)
                port = saved
            except (OSError, ValueError):
                port = 0
        if not getattr(self, "udp", None):
            for _ in range(20):
                try:
                    self._bind(host, port)
                    break
                except OSError:
                    if port:
                        raise
        if not getattr(self, "udp", None):
            raise OSError("no port free for both UDP and TCP")
        self.host, self.port = host, self.udp.server.server_address[1]
        if port_file:
            with open(port_file, "w") as f:
                f.write(f"{self.port}\n")

    def _bind(self, host, port):
        udp = DNSServer(self, address=host, port=port, tcp=False, logger=_Quiet(), handler=_Handler,
                        server=_Udp)
        try:
            tcp = DNSServer(self, address=host, port=udp.server.server_address[1], tcp=True, logger=_Quiet(),
                            handler=_Handler)
        except OSError:
            udp.server.server_close()
            raise
        self.udp, self.tcp = udp, tcp

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def start(self):
        self.udp.start_thread()
        self.tcp.start_thread()
        return self

    def stop(self):
        for s in (self.udp, self.tcp):
            s.server.shutdown()
            s.server.server_close()

    # ---------------------------------------------------------------- RDS names
    def set_name(self, name, address):
        with self.lock:
            self.names[route53.norm(name)] = address

    def drop_name(self, name):
        with self.lock:
            return self.names.pop(route53.norm(name), None) is not None

    def view(self):
        with self.lock:
            names = dict(self.names)
        return {"addr": self.addr, "host": self.host, "port": self.port, "names": names,
                "zones": sorted(route53.served_zones(self.world))}

    # ---------------------------------------------------------------- answers
    def resolve(self, request, handler):
        reply = request.reply(ra=0, aa=1)
        try:
            qname = str(request.q.qname).lower()
            qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
            zones = route53.served_zones(self.world)
            with self.world.lock, self.lock:
                self._answer(reply, zones, qname, qtype)
        except Exception as e:  # noqa: BLE001 - a bad record must not kill the server
            log.error("dns: answering %s: %s", request.q.qname, e)
            reply = request.reply(ra=0, aa=0)
            reply.header.rcode = RCODE.SERVFAIL
        return reply

    @staticmethod
    def _zone(zones, name):
        best = None
        for zn, z in zones.items():
            if route53.in_zone(name, zn) and (best is None or len(zn) > len(best["name"])):
                best = z
        return best

    def _soa(self, reply, z):
        soa = z["served"].get(z["name"], {}).get("SOA")
        if soa:
            minimum = int(soa["values"][0].split()[-1])
            reply.add_auth(RR(z["name"], QTYPE.SOA, rdata=rdata("SOA", soa["values"][0]),
                              ttl=min(soa["ttl"], minimum)))

    def _add(self, reply, name, typ, rec):
        for v in rec["values"]:
            rd = rdata(typ, v)
            if rd is not None:
                reply.add_answer(RR(name, getattr(QTYPE, typ), rdata=rd, ttl=rec["ttl"]))

    def _answer(self, reply, zones, name, qtype):
        seen = set()
        for hop in range(MAX_CHAIN):
            seen.add(name)
            z = self._zone(zones, name)
            if z is None:
                addr = self.names.get(name)
                if addr is None and name.rstrip(".") in self.world.endpoint_addresses():
                    addr = name.rstrip(".")   # an instance's own address (Endpoint.Address) names itself
                if addr is not None:
                    if qtype in ("A", "ANY"):
                        reply.add_answer(RR(name, QTYPE.A, rdata=A(addr), ttl=RDS_TTL))
                elif hop == 0:
                    reply.header.aa = 0
                    reply.header.rcode = RCODE.REFUSED
                return
            recs = z["served"].get(name)
            if recs is None:
                if not any(n.endswith("." + name) for n in z["served"]):
                    reply.header.rcode = RCODE.NXDOMAIN
                self._soa(reply, z)
                return
            if qtype == "ANY":
                for typ, rec in sorted(recs.items()):
                    self._add(reply, name, typ, rec)
                return
            if qtype in recs and rdata(qtype, recs[qtype]["values"][0]) is not None:
                self._add(reply, name, qtype, recs[qtype])
                return
            if "CNAME" in recs:
                self._add(reply, name, "CNAME", recs["CNAME"])
                target = route53.norm(recs["CNAME"]["values"][0])
                if target in seen:
                    return
                name = target
                continue
            self._soa(reply, z)
            return


def start(world, host, port, home):
    """The emulator's DNS server, listening and answering (main.py)."""
    try:
        srv = DnsServer(world, host, port, os.path.join(home, "dns.port"))
    except DNSError as e:
        raise OSError(str(e)) from None
    return srv.start()
