"""roam-emp: the serverless EMSP side of Plugsurfing's Roam OCPI (OCPI 2.2.1) interface.

Layers (each folder depends only on the ones above it in this list):

- ``ocpi``     pydantic models, envelope, status codes, timestamps, the auth header. No I/O.
- ``hub``      the outbound Roam OCPI client (httpx), its shared rate limiter and retries.
- ``store``    DynamoDB and Secrets Manager access.
- ``domain``   use cases (registration, credentials exchange) wiring the layers above.
- ``api``      the API Gateway plumbing shared by every HTTP Lambda (auth, envelope, errors).
- ``handlers`` one module per Lambda entry point; each only wires a request to domain code.
- ``local``    the embedded default: moto server, local API gateway, timers, queue pollers.
- ``simulator`` the bundled Roam OCPI simulator that plays Plugsurfing.
"""

__version__ = "0.1.0"
