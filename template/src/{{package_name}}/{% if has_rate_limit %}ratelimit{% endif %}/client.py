"""The address of the client, proxy-aware without being spoofable.

The peer of the connection is the client, unless it is one of the trusted proxies: then the
X-Forwarded-For hops are read from the right (the hop the proxy itself appended) and the first
one that is not a trusted proxy is the client. A client cannot pick its own address by sending
X-Forwarded-For: a hop is only believed when a trusted proxy vouches for the one after it.
"""

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

Network = IPv4Network | IPv6Network


def client_address(request: Request, trusted_proxies: list[Network]) -> str:
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if _parse(hop) is None:
            # A malformed hop cannot be attributed: the proxy that appended it is the client.
            return peer
        if not _is_trusted(hop, trusted_proxies):
            return hop
        peer = hop
    return peer


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _is_trusted(host: str, trusted_proxies: list[Network]) -> bool:
    address = _parse(host)
    return address is not None and any(address in network for network in trusted_proxies)
