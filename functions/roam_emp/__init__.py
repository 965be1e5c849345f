"""roam-emp: the serverless EMSP side of Plugsurfing's Roam OCPI (OCPI 2.2.1) interface.

Layers (each folder depends only on the ones above it in this list):

- ``ocpi``     pydantic models, envelope, status codes, timestamps, the auth header. No I/O.
- ``hub``      the outbound Roam OCPI client (httpx), its shared rate limiter and retries.
- ``store``    DynamoDB, S3, Secrets Manager, EventBridge and CloudWatch Logs access.
- ``domain``   use cases wiring the layers above.
- ``api``      the API Gateway plumbing shared by every HTTP Lambda (auth, envelope, errors).
- ``handlers`` one module per Lambda entry point; each only wires a request to domain code.
- ``stage``    Plugsurfing's stage test list, against the simulator or Plugsurfing's stage.
- ``local``    the embedded default: moto server, local API gateway, timers, queue pollers.
- ``simulator`` the bundled Roam OCPI simulator that plays Plugsurfing.
"""

import os

__version__ = "0.1.0"

# Powertools ties a module's child logger to the handler's logger by service name, read when each
# is created: one name for the whole package, whatever imports first (tests, local mode, CLI).
# Lambda sets the same name in its environment (infra/config.py).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "roam-emp")
