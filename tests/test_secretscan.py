"""Export refuses literal secrets and names the field; templates are not secrets."""

from __future__ import annotations

import pytest

from opsflow.secretscan import find_secrets

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("script", PRIVATE_KEY, "a private key"),
        ("note", "AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        ("x", "ghp_" + "A" * 36, "a GitHub token"),
        ("x", "xoxb-123456789012-abcdefghij", "a Slack token"),
        ("url", "https://hooks.slack.com/services/T000/B000/XXXX", "webhook URL"),
        ("Authorization", "Bearer abcdef123456", "an Authorization header value"),
        ("url", "https://admin:s3cret@db.example.com/", "a password inside a URL"),
        ("db_password", "hunter2", "a literal value for 'db_password'"),
        ("api_key", "k-123", "a literal value for 'api_key'"),
        ("x", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.sig", "a JSON Web Token"),
    ],
)
def test_secret_looking_values_are_found(key: str, value: str, reason: str) -> None:
    [finding] = find_secrets({"nodes": [{"id": "n", "params": {key: value}}]})
    assert finding.path == f"nodes.n.params.{key}"
    assert reason in finding.reason


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("password", "{{ inputs.password_hint }}"),
        ("token", ""),
        ("url", "https://status.example.com/health"),
        ("description", "rotate the API token every 90 days"),
        ("credential", "web-ssh"),
        ("password_policy", "at least 12 characters"),
    ],
)
def test_ordinary_values_are_not_secrets(key: str, value: str) -> None:
    assert find_secrets({"params": {key: value}}) == []


def test_allowed_paths_are_skipped() -> None:
    document = {"vars": {"token": "abc123"}}
    assert find_secrets(document, frozenset({"vars.token"})) == []
