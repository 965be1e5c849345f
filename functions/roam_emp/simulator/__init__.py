"""The bundled Roam OCPI simulator: a real HTTP server that behaves like Plugsurfing as its FAQ
describes it (one CPO role DE/8PS, 3,000 requests per clock minute with 429s that carry no
Retry-After, token A handshake both ways, PUT rotation, DELETE unregistration).

Control endpoints under ``/_sim/`` (no auth, 127.0.0.1 only) let tests and the demo steer it.
"""

from .server import RoamSimulator

__all__ = ["RoamSimulator"]
