"""Redaction: secrets vanish from strings, nested payloads and keys, in their common encodings."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from opsflow.engine.redact import MIN_SECRET_LENGTH, REDACTED, Redactor

SECRET = "s3cr3t/p@ss wörd+&="


def test_plain_value_in_a_string() -> None:
    redactor = Redactor([SECRET])
    assert redactor.redact(f"login failed for {SECRET}!") == f"login failed for {REDACTED}!"


def test_nested_payloads_and_keys_are_redacted_and_the_input_is_not_changed() -> None:
    payload: dict[str, Any] = {
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "items": [1, None, True, ("x", SECRET), [{"deep": [SECRET]}]],
        SECRET: "a key that is a secret",
    }
    before = json.dumps(payload)
    result = Redactor([SECRET]).redact(payload)
    assert SECRET not in json.dumps(result, ensure_ascii=False)
    assert result["headers"]["Authorization"] == f"Bearer {REDACTED}"
    assert result["items"][:3] == [1, None, True]
    assert result["items"][3] == ("x", REDACTED)
    assert result["items"][4] == [{"deep": [REDACTED]}]
    assert result[REDACTED] == "a key that is a secret"
    assert json.dumps(payload) == before


def test_url_encoded_forms() -> None:
    redactor = Redactor([SECRET])
    query = urlencode({"password": SECRET})  # quote_plus: spaces become "+"
    path = f"https://example.test/login/{quote(SECRET, safe='')}"
    assert SECRET not in query and SECRET not in path
    assert redactor.redact(query) == f"password={REDACTED}"
    assert redactor.redact(path) == f"https://example.test/login/{REDACTED}"


def test_json_escaped_forms() -> None:
    secret = 'quote"back\\slash\nnewline-ünïcode'
    redactor = Redactor([secret])
    for ensure_ascii in (True, False):
        logged = json.dumps({"body": json.dumps({"pw": secret}, ensure_ascii=ensure_ascii)})
        inner = json.loads(logged)["body"]  # a JSON text held in a string, as logs often are
        assert redactor.redact(inner) == f'{{"pw": "{REDACTED}"}}'


def test_overlapping_secrets_leave_no_fragment() -> None:
    redactor = Redactor(["abcd", "abcdefgh", "ghijkl"])
    assert redactor.redact("xx abcdefgh yy") == f"xx {REDACTED} yy"
    # "abcdefgh" and "ghijkl" overlap in "abcdefghijkl": the union is masked.
    assert redactor.redact("<abcdefghijkl>") == f"<{REDACTED}>"
    assert redactor.redact("abcd abcd") == f"{REDACTED} {REDACTED}"


def test_short_and_blank_secrets_are_ignored() -> None:
    redactor = Redactor(["abc", "", "    ", "x" * (MIN_SECRET_LENGTH - 1)])
    text = "abc    xxx"
    assert redactor.redact(text) is text


def test_no_secrets_returns_the_same_objects() -> None:
    payload = {"a": [1, {"b": "text"}], "c": "d"}
    assert Redactor().redact(payload) is payload
    # With secrets that do not occur, nothing is copied either.
    assert Redactor(["not-in-there"]).redact(payload) is payload


def test_add_extends_the_secrets() -> None:
    redactor = Redactor()
    assert redactor.redact("token-1234") == "token-1234"
    redactor.add("token-1234")
    redactor.add("token-1234")
    assert redactor.redact("use token-1234") == f"use {REDACTED}"


def test_custom_mask() -> None:
    assert Redactor(["hunter22"], mask="***").redact("pw=hunter22") == "pw=***"


def test_regex_metacharacters_are_literal() -> None:
    secret = r"a.b*c(d)[e]$^|\d"
    redactor = Redactor([secret])
    assert redactor.redact(f"<{secret}>") == f"<{REDACTED}>"
    assert redactor.redact("aXbbbc(d)[e]") == "aXbbbc(d)[e]"


@given(
    secrets=st.lists(st.text(min_size=MIN_SECRET_LENGTH, max_size=12), min_size=1, max_size=4),
    filler=st.lists(st.text(max_size=8), min_size=1, max_size=5),
)
def test_no_secret_survives_in_any_mix(secrets: list[str], filler: list[str]) -> None:
    secrets = [s for s in secrets if s.strip()]
    text = "".join(f"{f}{s}" for f, s in zip(filler, secrets * 5, strict=False))
    pieces = Redactor(secrets).redact(text).split(REDACTED)
    for secret in secrets:
        assert not any(secret in piece for piece in pieces)


def _php_json(value: str) -> str:
    """How PHP's json_encode writes a string: slashes escaped, non-ASCII as \\uXXXX."""
    return json.dumps(value).replace("/", "\\/")[1:-1]


def test_every_encoding_a_server_may_echo_is_masked() -> None:
    secret = 'tok/en+k\u00e9 y\U0001f511"9Z!'
    data = secret.encode("utf-8")
    echoed = {
        "php json": _php_json(secret),
        "every char \\u, lower": "".join(
            f"\\u{unit:04x}"
            for unit in (
                int.from_bytes(secret.encode("utf-16-be")[i : i + 2], "big")
                for i in range(0, len(secret.encode("utf-16-be")), 2)
            )
        ),
        "every char \\u, upper": "".join(
            f"\\u{unit:04X}"
            for unit in (
                int.from_bytes(secret.encode("utf-16-be")[i : i + 2], "big")
                for i in range(0, len(secret.encode("utf-16-be")), 2)
            )
        ),
        "url, lower-case hex": "".join(
            chr(b) if chr(b).isascii() and chr(b).isalnum() else f"%{b:02x}" for b in data
        ),
        "base64 alone": base64.b64encode(data).decode(),
        "base64 inside a longer text, offset 1": base64.b64encode(b"{" + data + b"}").decode(),
        "base64 inside a longer text, offset 2": base64.b64encode(b'"x' + data).decode(),
        "url-safe base64": base64.urlsafe_b64encode(b"ab" + data + b"cd").decode(),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
    }
    redactor = Redactor([secret])
    for how, form in echoed.items():
        shown = redactor.redact(f"answer: {form} .")
        assert REDACTED in shown, f"{how}: {shown}"
        assert form not in shown, how


def test_short_encoded_forms_are_not_masked_in_ordinary_output() -> None:
    redactor = Redactor(["abcd"])  # hex and base64 forms would be 8 / 5 characters
    assert redactor.redact("YWJjZA 61626364") == "YWJjZA " + REDACTED
