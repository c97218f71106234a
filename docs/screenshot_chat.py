"""Take the README's agent-chat screenshot from a running set-up (demo data + the real reply model).

    make setup && .venv/bin/python docs/screenshot_chat.py     # writes docs/screenshot-chat.png

Starts ``manage.py runserver`` on a free port with the same environment, logs in as
the demo ``agent`` (password from ``$DATA_DIR/demo-passwords.txt``), opens a demo
conversation, asks for a suggestion (Alt+S), waits for it and saves the page.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_password(data_dir: Path) -> str:
    for line in (data_dir / "demo-passwords.txt").read_text().splitlines():
        name, _, password = line.partition(" ")
        if name == "agent":
            return password
    raise SystemExit("no agent password in demo-passwords.txt: run `make setup` first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subject", default="Refund not received", help="open the first conversation with it")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot-chat.png")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var"))
    env = {**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", "agent")
            page.fill("#id_password", agent_password(data_dir))
            page.click("button[type=submit]")
            page.goto(f"{base}/?status=all&q={args.subject.replace(' ', '+')}")
            page.click(".conv-list a >> nth=0")
            page.wait_for_selector("#composer-text")
            page.focus("#composer-text")
            page.keyboard.press("Alt+s")
            page.wait_for_selector(
                "#conversation[data-suggestion-state=done], #conversation[data-suggestion-state=cancelled]",
                timeout=180_000,
            )
            page.hover("#messages mark.ent >> nth=0")
            page.screenshot(path=str(args.out))
            browser.close()
        print(f"wrote {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
