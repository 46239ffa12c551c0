#!/usr/bin/env python3
"""Opens the gateway's API docs page in headless Chromium and checks that it works offline.

Usage: check_docs.py BASE_URL   (e.g. http://127.0.0.1:8080)

Drives Chromium over the DevTools protocol: loads BASE_URL/docs, waits until Swagger UI has
rendered the live document, checks that the customers and products operations are listed,
then uses "Try it out" on a public endpoint (the JWKS) and waits for its 200. Every request
the page makes must go to the gateway itself: a request to any other origin fails the check
(clusters are often air-gapped). Exits non-zero with the reason on any failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websocket

DEADLINE_SECONDS = 30
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
]


def fail(message):
    print(f"check_docs: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Page:
    """One browser tab, driven over its DevTools websocket."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=DEADLINE_SECONDS)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    fail(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            fail(f"script error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, what, expression):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        opened = self.evaluate(
            "[...document.querySelectorAll('.opblock.is-open')]"
            ".map(e => e.outerHTML.slice(0, 1500)).join('\\n')"
        )
        fail(f"timed out waiting for {what}; open operations: {opened or 'none'}")

    def requested_urls(self):
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]


def start_chromium(profile):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        fail("chromium is not installed (make setup installs it)")
    browser = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    for line in browser.stderr:
        match = re.search(r"DevTools listening on ws://([^/]+)/", line)
        if match:
            return browser, match.group(1)
        if time.monotonic() > deadline:
            break
    browser.kill()
    fail("chromium did not start its DevTools endpoint")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base = sys.argv[1].rstrip("/")
    origin = urllib.parse.urlsplit(base)
    profile = tempfile.mkdtemp(prefix="natstack-chromium-")
    browser, devtools = start_chromium(profile)
    try:
        request = urllib.request.Request(f"http://{devtools}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Network.enable")
        page.call("Page.enable")
        page.call("Page.navigate", url=f"{base}/docs")

        count = page.wait_for(
            "the operations to render",
            "document.querySelectorAll('.opblock').length",
        )
        tags = page.evaluate(
            "[...document.querySelectorAll('.opblock-tag')].map(e => e.dataset.tag)"
        )
        for tag in ("customers", "products", "auth"):
            if tag not in tags:
                fail(f"no {tag} operations listed (tags: {tags})")
        print(f"check_docs: {count} operations listed under {sorted(tags)}")

        # "Try it out" on the public JWKS endpoint, as a user would click it.
        page.evaluate(
            """(() => {
                const op = [...document.querySelectorAll('.opblock-get')]
                  .find(e => e.textContent.includes('/.well-known/jwks.json'));
                (op.querySelector('.opblock-summary-control')
                  || op.querySelector('.opblock-summary')).click();
                return true;
            })()"""
        )
        page.wait_for(
            "the Try it out button",
            "(() => { const b = document.querySelector('.opblock.is-open .try-out__btn');"
            " if (b) { b.click(); return true; } return false; })()",
        )
        page.wait_for(
            "the Execute button",
            "(() => { const b = document.querySelector('.opblock.is-open .execute');"
            " if (b) { b.click(); return true; } return false; })()",
        )
        status = page.wait_for(
            "the response of Try it out",
            "(() => { const s = document.querySelector("
            "'.opblock.is-open .live-responses-table tr.response .response-col_status');"
            " return s ? s.textContent.trim() : ''; })()",
        )
        if not status.startswith("200"):
            fail(f"Try it out answered {status!r}, not 200")
        print(f"check_docs: Try it out of GET /.well-known/jwks.json answered {status}")

        foreign = [
            url
            for url in page.requested_urls()
            if urllib.parse.urlsplit(url).netloc not in ("", origin.netloc)
            and not url.startswith(("data:", "about:"))
        ]
        if foreign:
            fail(f"the page requested other origins: {foreign}")
        print(f"check_docs: OK, {len(page.requested_urls())} requests, all to {origin.netloc}")
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
