"""Which of our tokens a Session or CDR was charged with (FAQ "Can multiple tokens share one
contract_id?", "What happens if multiple tokens share one contract_id and an old CDR arrives
later?", "What is X-Original-Protocol?").

By uid when we know it; else, as Plugsurfing itself does, "the first key matching that
contract_id" in any of its forms, first meaning creation order (TokenStore.first_for_contract).
``ambiguous`` is true whenever several of our tokens share the contract_id and Plugsurfing sent
``X-Original-Protocol``: an older upstream protocol gave only the contract_id, and the uid in the
CDR may be Plugsurfing's pick of the first key rather than the key actually used, so a uid match
is no more certain than a contract_id match.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..store.tokens import TokenStore


class CdrTokenLike(Protocol):
    """OCPI CdrToken (ocpi.sessions.CdrToken) or anything with its three keys."""

    @property
    def uid(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def contract_id(self) -> str: ...


def match_token(tokens: TokenStore, cdr_token: CdrTokenLike, original_protocol: str | None) -> dict[str, Any]:
    """{"method": "uid" | "contract_id" | "none", "token_uid", "token_type", "ambiguous"}."""
    sharing = tokens.count_for_contract(cdr_token.contract_id) if cdr_token.contract_id else set()
    ambiguous = len(sharing) > 1 and bool(original_protocol)
    stored = tokens.get(cdr_token.type, cdr_token.uid, consistent=False)
    if stored is not None:
        return {
            "method": "uid",
            # our token as we spelled it: uids are CiString (types.asciidoc), Plugsurfing's case may differ
            "token_uid": stored.token["uid"],
            "token_type": cdr_token.type,
            "ambiguous": ambiguous,
        }
    first = tokens.first_for_contract(cdr_token.contract_id) if sharing else None
    if first is None:
        return {"method": "none", "token_uid": None, "token_type": None, "ambiguous": False}
    return {
        "method": "contract_id",
        "token_uid": first.token["uid"],
        "token_type": first.token["type"],
        "ambiguous": ambiguous,
    }
