"""The OCPI credentials exchange with Plugsurfing, in both directions (credentials.asciidoc).

We initiate (``register``): Plugsurfing gave us its versions URL and token A out of band. We fetch
its versions with A, pick 2.2.1, store a fresh token B as the token it must present to us (it calls
our versions endpoint with B *during* our POST), POST our credentials, and keep its token C for
every later call.

Plugsurfing initiates (``accept_registration``): we issued a token A (``issue_token_a``); it POSTs
its credentials with token B; we fetch its endpoints with B and answer with a fresh token C.

We unregister (``unregister``): DELETE to Plugsurfing's credentials endpoint, then we forget our
tokens and the connection (credentials.asciidoc, DELETE: both parties end automated communication).

Plugsurfing answers as one CPO role, country_code DE / party_id 8PS, business name Plugsurfing (FAQ
"What do we receive during the Credentials handshake?"); we store that role as given.

The role of the other side's credentials endpoint is disregarded (version_information_endpoint
.asciidoc, Endpoint: "disregard the value of the role property ... for other platforms'
credentials modules"; the spec's own examples advertise it as RECEIVER).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from ..config import Settings
from ..hub.client import INTERACTIVE_RETRY, HubClient
from ..hub.errors import HubError, HubRejected
from ..hub.factory import hub_client
from ..ocpi.common import BusinessDetails
from ..ocpi.credentials import Credentials, CredentialsRole
from ..ocpi.enums import ModuleID, Role
from ..ocpi.leniency import dump_outbound, parse_inbound
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.versions import Endpoint, Version, VersionDetails
from ..store.bus import EventPublisher
from ..store.credentials import CredentialsVault, HubTokens, new_token
from ..store.registration import Connection, ConnectionStatus, ConnectionStore, Initiator, registered_now
from .versions import VERSION, versions_url

logger = Logger(child=True)

# Without these the EMSP role cannot work with a CPO (credentials.asciidoc, "Required endpoints
# not available": the Sender does not POST when the endpoints it expects are missing). The
# credentials endpoint is looked up whatever its role (credentials_endpoint).
REQUIRED_ENDPOINTS: tuple[tuple[str, str], ...] = ((ModuleID.LOCATIONS.value, "SENDER"),)


def credentials_endpoint(endpoints: list[Endpoint]) -> str | None:
    """The other side's credentials URL, whatever role it is advertised with (SENDER preferred
    when both are listed)."""
    found = [e for e in endpoints if e.identifier == ModuleID.CREDENTIALS.value]
    found.sort(key=lambda e: e.role != "SENDER")
    return found[0].url if found else None


@dataclass(frozen=True)
class Discovery:
    versions_url: str
    details: VersionDetails


@dataclass
class Registrar:
    config: Settings
    vault: CredentialsVault
    connections: ConnectionStore
    events: EventPublisher

    @classmethod
    def from_settings(cls, config: Settings) -> Registrar:
        return cls(
            config=config,
            vault=CredentialsVault(config.credentials_secret, config.secret_cache_s),
            connections=ConnectionStore(config.state_table),
            events=EventPublisher(config.event_bus_name),
        )

    # What we tell the other side ----------------------------------------------------------

    def our_credentials(self, base_url: str, token: str) -> Credentials:
        details = BusinessDetails(name=self.config.business_name, website=self.config.business_website)
        return Credentials(
            token=token,
            url=versions_url(base_url),
            roles=[
                CredentialsRole(
                    role=Role.EMSP,
                    business_details=details,
                    party_id=self.config.party_id,
                    country_code=self.config.country_code,
                )
            ],
        )

    def current_credentials(self, base_url: str) -> Credentials:
        """GET credentials: our credentials with the token C this Lambda holds. The secret is
        cached per Lambda for ``secret_cache_seconds`` (store/credentials.py): right after a
        rotation on another Lambda, a caller still using the rotated-away token (accepted here
        until the cache expires, docs/security.md) is answered that token; the new token forces a
        fresh read and is answered itself."""
        tokens = self.vault.get()
        if not tokens.inbound:
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=405)
        return self.our_credentials(base_url, tokens.inbound)

    # Discovery ----------------------------------------------------------------------------

    def discover(self, client: HubClient, url: str) -> Discovery:
        """Fetch the other side's versions, pick 2.2.1 and fetch its endpoints."""
        versions, _ = client.fetch_list(Version, url)
        chosen = next((v for v in versions if v.version == VERSION), None)
        if chosen is None:
            offered = ", ".join(v.version for v in versions) or "none"
            raise OcpiError(
                StatusCode.UNSUPPORTED_VERSION,
                f"no mutual OCPI version: we speak {VERSION}, the other side offers {offered}",
            )
        details, _ = client.fetch(VersionDetails, chosen.url)
        missing = [f"{i} ({r})" for i, r in REQUIRED_ENDPOINTS if details.endpoint(i, r) is None]
        if credentials_endpoint(details.endpoints) is None:
            missing.insert(0, ModuleID.CREDENTIALS.value)
        if missing:
            raise OcpiError(
                StatusCode.NO_MATCHING_ENDPOINTS, "expected endpoints missing: " + ", ".join(missing)
            )
        return Discovery(url, details)

    # We initiate ---------------------------------------------------------------------------

    def register(self, hub_versions_url: str, token_a: str, base_url: str) -> Connection:
        """`roam-emp register`: the whole handshake with Plugsurfing's token A."""
        if self.connections.get().status is ConnectionStatus.REGISTERED:
            raise OcpiError(
                StatusCode.CLIENT_ERROR,
                "already registered: Plugsurfing must unregister (DELETE) first, or "
                "rotate with `roam-emp rotate-credentials`",
                http_status=409,
            )
        return self._exchange("POST", hub_versions_url, token_a, base_url)

    def rotate(self, base_url: str) -> Connection:
        """PUT our new credentials to Plugsurfing: fresh tokens both ways, endpoints refreshed."""
        connection = self.connections.get()
        tokens = self.vault.get(fresh=True)
        if (
            connection.status is not ConnectionStatus.REGISTERED
            or not connection.versions_url
            or not tokens.outbound
        ):
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=409)
        return self._exchange("PUT", connection.versions_url, tokens.outbound, base_url)

    def _exchange(self, method: str, hub_versions_url: str, token: str, base_url: str) -> Connection:
        client = hub_client(self.config, token)
        try:
            discovery = self.discover(client, hub_versions_url)
            credentials_url = credentials_endpoint(discovery.details.endpoints)
            assert credentials_url is not None
            previous = self.vault.get(fresh=True)
            token_b = new_token()
            # Plugsurfing fetches our endpoints with token B while our POST is open, so B must be
            # valid before we send it. The old inbound token keeps working until the answer.
            self.vault.put(HubTokens(inbound=token_b, token_a=previous.token_a, outbound=previous.outbound))
            ours = dump_outbound(self.our_credentials(base_url, token_b))
            try:
                response = client.request(method, credentials_url, json_body=ours, idempotent=False)
                theirs, deviations = parse_inbound(Credentials, response.data)
            except Exception:
                self.vault.put(previous)  # nothing half-stored: the old tokens stay in force
                raise
        except HubError as error:
            raise OcpiError(
                StatusCode.UNABLE_TO_USE_CLIENT_API, f"registration with Plugsurfing failed: {error}"
            ) from error
        finally:
            client.close()
        self.vault.put(HubTokens(inbound=token_b, outbound=theirs.token))
        connection = self.connections.put(
            registered_now(
                initiator=Initiator.EMSP,
                versions_url=hub_versions_url,
                version=VERSION,
                endpoints=discovery.details.endpoints,
                roles=theirs.roles,
            )
        )
        logger.info(
            "registered with Plugsurfing",
            extra={"method": method, "hub_roles": _roles(theirs), "deviations": len(deviations)},
        )
        self.events.publish(
            "HubRegistered", {"initiator": "EMSP", "method": method, "hub_roles": _roles(theirs)}
        )
        return connection

    def unregister(self, *, force: bool = False) -> Connection:
        """`roam-emp unregister`: DELETE to Plugsurfing's credentials endpoint, then forget our
        tokens and the connection. When Plugsurfing cannot be told (unreachable, refusing),
        nothing changes unless ``force``. A 405 from Plugsurfing means it holds no registration
        of ours (credentials.asciidoc, DELETE), so ours goes too."""
        connection = self.connections.get()
        if connection.status is not ConnectionStatus.REGISTERED:
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=409)
        url = credentials_endpoint(connection.endpoints)
        told = False
        if url is None and not force:
            raise OcpiError(
                StatusCode.UNABLE_TO_USE_CLIENT_API,
                "no credentials endpoint of Plugsurfing's is stored, so it cannot be told; still "
                "registered. `roam-emp unregister --force` forgets the registration anyway",
            )
        if url:
            client = hub_client(self.config, lambda: self.vault.get().outbound, retry=INTERACTIVE_RETRY)
            try:
                client.request("DELETE", url)
                told = True
            except HubError as error:
                told = isinstance(error, HubRejected) and error.http_status == 405
                if not told and not force:
                    raise OcpiError(
                        StatusCode.UNABLE_TO_USE_CLIENT_API,
                        f"Plugsurfing could not be told ({error}); still registered. "
                        "`roam-emp unregister --force` forgets the registration anyway",
                    ) from error
            finally:
                client.close()
        self.vault.put(HubTokens())
        stored = self.connections.put(Connection(status=ConnectionStatus.UNREGISTERED))
        logger.info("unregistered from Plugsurfing", extra={"plugsurfing_told": told, "forced": force})
        self.events.publish("HubUnregistered", {"initiator": "EMSP", "plugsurfing_told": told})
        return stored

    # Plugsurfing initiates -----------------------------------------------------------------

    def issue_token_a(self) -> str:
        """A token A for a Plugsurfing-initiated registration, handed over out of band."""
        token_a = new_token()
        current = self.vault.get(fresh=True)
        self.vault.put(HubTokens(inbound=current.inbound, token_a=token_a, outbound=current.outbound))
        return token_a

    def accept_registration(self, theirs: Credentials, base_url: str) -> Credentials:
        """POST /credentials from Plugsurfing (authenticated with token A)."""
        if self.connections.get().status is ConnectionStatus.REGISTERED:
            raise OcpiError(StatusCode.CLIENT_ERROR, "already registered", http_status=405)
        return self._accept(theirs, base_url, "POST")

    def accept_update(self, theirs: Credentials, base_url: str) -> Credentials:
        """PUT /credentials from Plugsurfing: new token both ways, its endpoints fetched again."""
        if self.connections.get().status is not ConnectionStatus.REGISTERED:
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=405)
        return self._accept(theirs, base_url, "PUT")

    def _accept(self, theirs: Credentials, base_url: str, method: str) -> Credentials:
        # Plugsurfing waits on its POST/PUT meanwhile: retry briefly.
        client = hub_client(self.config, theirs.token, retry=INTERACTIVE_RETRY)
        try:
            discovery = self.discover(client, theirs.url)
        except HubError as error:
            raise OcpiError(
                StatusCode.UNABLE_TO_USE_CLIENT_API,
                f"could not use the versions endpoint {theirs.url}: {error}",
            ) from error
        finally:
            client.close()
        token_c = new_token()
        previous = self.vault.get(fresh=True)
        # Keep token A until the connection is stored, so a failed write can be retried.
        self.vault.put(HubTokens(inbound=token_c, token_a=previous.token_a, outbound=theirs.token))
        self.connections.put(
            registered_now(
                initiator=Initiator.HUB,
                versions_url=theirs.url,
                version=VERSION,
                endpoints=discovery.details.endpoints,
                roles=theirs.roles,
            )
        )
        self.vault.put(HubTokens(inbound=token_c, outbound=theirs.token))
        logger.info("Plugsurfing registered with us", extra={"method": method, "hub_roles": _roles(theirs)})
        self.events.publish(
            "HubRegistered", {"initiator": "HUB", "method": method, "hub_roles": _roles(theirs)}
        )
        return self.our_credentials(base_url, token_c)

    def accept_unregister(self) -> None:
        """DELETE /credentials: end all communication. This Lambda drops its cached tokens at
        once; other warm Lambdas keep accepting the old token for up to ``secret_cache_seconds``
        (300 s by default: docs/security.md), then every inbound call gets 401."""
        if self.connections.get().status is not ConnectionStatus.REGISTERED:
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=405)
        self.vault.put(HubTokens())
        self.connections.put(Connection(status=ConnectionStatus.UNREGISTERED))
        logger.info("Plugsurfing unregistered")
        self.events.publish("HubUnregistered", {"initiator": "HUB"})

    def status(self) -> Connection:
        return self.connections.get()


def _roles(credentials: Credentials) -> list[str]:
    return [f"{r.role} {r.country_code}/{r.party_id} {r.business_details.name}" for r in credentials.roles]
