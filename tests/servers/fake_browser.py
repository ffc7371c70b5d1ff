"""A stand-in for the user's browser, set as ``BROWSER``: signs in by following the authorization server.

Called as ``fake_browser.py URL`` (webbrowser appends the URL). It GETs the authorize URL without
following redirects (the test authorization server approves at once and answers 302), then
delivers the ``Location`` to the bridge's loopback listener, as a browser would. With
``FAKE_BROWSER_LOG`` set it appends each authorize URL's query to that file.
"""

from __future__ import annotations

import os
import sys

import httpx


def main() -> int:
    url = sys.argv[-1]
    log = os.environ.get("FAKE_BROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(url + "\n")
    with httpx.Client(follow_redirects=False, timeout=10.0, trust_env=False) as client:
        answer = client.get(url)
        if answer.status_code not in (302, 303, 307):
            print(f"fake browser: /authorize answered {answer.status_code}", file=sys.stderr)
            return 1
        client.get(answer.headers["location"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
