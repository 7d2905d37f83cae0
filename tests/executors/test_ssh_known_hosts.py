"""The known_hosts reader of the SSH executor, line by line, as OpenSSH reads the file."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsflow.executors.ssh import KnownHost, host_matches, parse_known_hosts, read_known_hosts


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _blob(*fields: bytes) -> bytes:
    return b"".join(_string(field) for field in fields)


ED25519 = _blob(b"ssh-ed25519", b"k" * 32)
RSA = _blob(b"ssh-rsa", b"\x01\x00\x01", b"\x00" + b"n" * 256)
ECDSA = _blob(b"ecdsa-sha2-nistp256", b"nistp256", b"\x04" + b"q" * 64)
CERT = _blob(b"ssh-ed25519-cert-v01@openssh.com", b"nonce", b"k" * 32) + b"\x00" * 12


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def hashed(name: str, salt: bytes = b"s" * 20) -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{b64(salt)}|{b64(digest)}"


def test_plain_markers_and_key_types_are_read() -> None:
    text = (
        f"web01,web01.example.com ssh-ed25519 {b64(ED25519)} root@web01\n"
        f"@revoked * ssh-rsa {b64(RSA)}\n"
        f"@cert-authority\t*.example.com ecdsa-sha2-nistp256 {b64(ECDSA)}\r\n"
        f"  [web02]:2222 ssh-ed25519-cert-v01@openssh.com {b64(CERT)}\n"
    )
    assert parse_known_hosts(text) == [
        KnownHost("", "web01,web01.example.com", "ssh-ed25519", ED25519),
        KnownHost("@revoked", "*", "ssh-rsa", RSA),
        KnownHost("@cert-authority", "*.example.com", "ecdsa-sha2-nistp256", ECDSA),
        KnownHost("", "[web02]:2222", "ssh-ed25519-cert-v01@openssh.com", CERT),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   \t ",
        "# web01 ssh-ed25519 " + b64(ED25519),
        "   # indented comment",
        "web01",
        "web01 ssh-ed25519",
        "web01 # ssh-ed25519 " + b64(ED25519),
        "@revoked",
        "@revoked *",
        "@revoked* ssh-ed25519 " + b64(ED25519),
        "@Revoked * ssh-ed25519 " + b64(ED25519),
        "@no-such-marker * ssh-ed25519 " + b64(ED25519),
        "@revoked @cert-authority * ssh-ed25519 " + b64(ED25519),
        "web01 ssh-ed25519 AAAA-broken",
        "web01 ssh-ed25519 " + b64(ED25519)[:-4],
        "web01 ssh-ed25519 " + b64(ED25519[:-1]),
        "web01 ssh-ed25519 " + b64(ED25519 + b"\x00"),
        "web01 ssh-ed25519 " + b64(_blob(b"ssh-ed25519", b"k" * 31)),
        "web01 ssh-rsa " + b64(ED25519),
        "web01 ssh-rsa " + b64(_blob(b"ssh-rsa", b"\x01\x00\x01")),
        "web01 ecdsa-sha2-nistp384 " + b64(_blob(b"ecdsa-sha2-nistp384", b"nistp256", b"q")),
        "web01 ssh-foo " + b64(_blob(b"ssh-foo", b"x")),
        "web01 1024 35 123456789",  # the SSH-1 format OpenSSH dropped
        "web01 ssh-ed25519 " + b64(b""),
    ],
)
def test_lines_openssh_skips_are_skipped(line: str) -> None:
    assert parse_known_hosts(line + "\n") == []


@pytest.mark.parametrize(
    ("hosts", "name", "matched"),
    [
        ("web01", "web01", True),
        ("web01", "web011", False),
        ("WEB01", "web01", True),
        ("web01", "Web01", True),
        ("db,web01,mail", "web01", True),
        ("web*", "web01", True),
        ("web??", "web01", True),
        ("web?", "web01", False),
        ("*.example.com", "web01.example.com", True),
        ("*.example.com", "example.com", False),
        ("[web01]:2222", "[web01]:2222", True),
        ("[web01]:2222", "web01", False),
        ("[web0?]:22*", "[web01]:2222", True),
        ("[web01]:2222", "[web01]:22", False),
        ("[w]eb01", "web01", False),  # brackets are literal, not a character class
        ("web.1", "web01", False),  # so is a dot
        ("*,!web01", "web01", False),
        ("!web01,*", "web01", False),
        ("!web02,*", "web01", True),
        ("!web01", "web01", False),
        ("!web02", "web01", False),  # a negation alone matches nothing
        ("*,!*.example.com", "web01.example.com", False),
        ("", "web01", False),
        (",,web01,", "web01", True),
        (hashed("web01"), "web01", True),
        (hashed("web01"), "WEB01", True),
        (hashed("web01"), "web02", False),
        (hashed("[web01]:2222"), "[web01]:2222", True),
        (hashed("[web01]:2222"), "web01", False),
        (hashed("web01", b"s" * 19), "web01", False),  # OpenSSH wants a 20-byte salt
        ("|1|bad salt|x", "web01", False),
        ("|1|only", "web01", False),
        (hashed("web01") + ",web02", "web02", False),  # a hashed field is one name
        ("|1|wébé|x", "web01", False),
        ("wébé", "wébé", True),
    ],
)
def test_host_patterns(hosts: str, name: str, matched: bool) -> None:
    assert host_matches(hosts, name) is matched


def test_read_known_hosts_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_bytes(b"\xff\xfe web01\x00 ssh-ed25519 x\n" + f"web01 ssh-rsa {b64(RSA)}\n".encode())
    assert read_known_hosts(path) == [KnownHost("", "web01", "ssh-rsa", RSA)]


@given(st.text())
def test_any_text_is_read_without_an_error(text: str) -> None:
    for entry in parse_known_hosts(text):
        entry.matches("web01")
        entry.matches("[web01]:2222")


@given(
    st.lists(
        st.sampled_from(
            [
                "ssh-ed25519",
                "web01",
                "*",
                "!",
                "|1|",
                "@revoked",
                "AAAA",
                b64(ED25519),
                b64(RSA),
                ",",
                " ",
                "\t",
                "#",
                "\n",
            ]
        )
    )
)
def test_near_miss_lines_are_read_without_an_error(parts: list[str]) -> None:
    for entry in parse_known_hosts("".join(parts)):
        assert entry.marker in ("", "@revoked", "@cert-authority")
        entry.matches("web01")


def test_many_stars_take_no_time() -> None:
    hosts = "*a" * 40 + "b"
    assert host_matches(hosts, "a" * 200) is False
    assert host_matches("*a*a*a*", "xaxaxa") is True
    assert host_matches("*a*a*a*", "xaxa") is False
