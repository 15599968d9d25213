"""Regenerate the README's dashboard screenshots (docs/img/overview.png, docs/img/league.png): the demo
dataset in a temporary store, `jejak serve` on a free port, Debian's headless Chromium through Selenium.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).parent.parent
OUT = ROOT / "docs" / "img"
PAGES = {"overview": "/", "league": "/ppk?sort=received&dir=desc"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shoot(driver, url: str, path: Path, height: int = 1100) -> None:
    driver.get(url)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        db = f"sqlite:///{home}/demo.db"
        jejak = [sys.executable, "-m", "entrypoints.cli"]
        subprocess.run([*jejak, "demo", "--db", db, "--no-progress"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        server = subprocess.Popen([*jejak, "serve", "--db", db, "--port", str(port), "--insecure-dev",
                                   "--no-access-log"], cwd=ROOT, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "XDG_STATE_HOME": home})
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):  # up to 30 s
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--window-size=1200,1100"):
                options.add_argument(argument)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                for name, path in PAGES.items():
                    shoot(driver, base + path, OUT / f"{name}.png")
                    print(OUT / f"{name}.png")
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
