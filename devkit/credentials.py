"""The AKOOL account the local stack and the tests use: published test values, no real secret."""

from __future__ import annotations

TEST_CLIENT_ID = "64db241f6d9e5c4bd136c187"
TEST_API_KEY = "0123456789abcdefghijklmnopqrstuv"
