import base64

from roam_emp.ocpi.auth_header import candidates, encode_token, matches

TOKEN = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"


def test_we_send_base64() -> None:
    header = encode_token(TOKEN)
    assert header == "Token " + base64.b64encode(TOKEN.encode()).decode()


def test_accepts_base64_and_raw_211_form() -> None:
    assert matches(encode_token(TOKEN), TOKEN)
    assert matches(f"Token {TOKEN}", TOKEN)  # OCPI 2.1.1 hubs send the token raw
    assert matches(f"token   {TOKEN}  ", TOKEN)


def test_refuses_wrong_missing_or_other_schemes() -> None:
    assert not matches(encode_token("other"), TOKEN)
    assert not matches(None, TOKEN)
    assert not matches("", TOKEN)
    assert not matches(f"Bearer {TOKEN}", TOKEN)
    assert not matches("Token", TOKEN)
    assert not matches(encode_token(TOKEN), None)
    assert not matches(encode_token(TOKEN), "")


def test_raw_token_that_happens_to_be_valid_base64_still_matches() -> None:
    raw = "abcd1234"  # decodes as base64 into bytes that are not printable
    assert matches(f"Token {raw}", raw)
    assert candidates(f"Token {raw}")[-1] == raw
