"""The operator's client for our admin API: SigV4-signed against a deployed stack (API Gateway
IAM authorisation), plain HTTP against local mode on 127.0.0.1."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx


class AdminError(Exception):
    pass


@dataclass
class AdminClient:
    api_url: str
    region: str | None = None
    timeout_s: float = 60.0

    @property
    def _local(self) -> bool:
        return urlparse(self.api_url).hostname in ("127.0.0.1", "localhost", "::1")

    def admin(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> httpx.Response:
        """The raw answer (the shape of local mode's ``LocalRuntime.admin``)."""
        url = self.api_url.rstrip("/") + path
        content = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if content else {}
        if not self._local:
            headers = self._sign(method, url, content, headers)
        return httpx.request(method, url, content=content, headers=headers, timeout=timeout or self.timeout_s)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's ``data``; AdminError for anything but success."""
        response = self.admin(method, path, body)
        try:
            payload = response.json()
        except ValueError as error:
            raise AdminError(f"HTTP {response.status_code}: {response.text[:300]}") from error
        if response.status_code >= 400 or payload.get("status_code", 1000) >= 2000:
            raise AdminError(
                f"HTTP {response.status_code}, OCPI {payload.get('status_code')}: "
                f"{payload.get('status_message') or payload.get('message')}"
            )
        return payload.get("data")

    def _sign(self, method: str, url: str, content: str | None, headers: dict[str, str]) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise AdminError("no AWS credentials found to sign the admin API request")
        region = self.region or session.region_name or os.environ.get("AWS_REGION") or "eu-central-1"
        request = AWSRequest(method=method, url=url, data=content, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())
