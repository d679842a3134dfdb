"""Headless Chromium for the report's browser tests, driven by Selenium, fully offline.

Run as a script to screenshot a report page for the documentation:
    .venv/bin/python tests/browser.py reports/latest/report.html docs/report.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Root needs --no-sandbox; the rest keeps Chromium from calling any server of its own.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def chromium(profile_dir: Path, width: int = 1280, height: int = 900) -> webdriver.Chrome:
    """A headless Chromium with a fresh profile; the driver path is explicit, so Selenium
    Manager never runs and never downloads anything."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} is missing: run `make setup` to install chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def full_page_png(driver: webdriver.Chrome) -> bytes:
    """The whole page as PNG, however far it scrolls."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    driver.set_window_size(max(width, 800), min(height + 120, 8000))
    return driver.get_screenshot_as_png()


def shrink(png: Path, out: Path, width: int = 1100, max_bytes: int = 300_000) -> None:
    """Crop PNG to at most 1.3 times as high as wide, scale it to WIDTH, as a palette PNG."""
    from PIL import Image

    with Image.open(png) as image:
        image = image.convert("RGB")
        scale = width / image.width
        height = min(image.height, int(image.width * 1.3))
        image = image.crop((0, 0, image.width, height))
        image = image.resize((width, round(height * scale)), Image.Resampling.LANCZOS)
        colours = 256
        while True:
            image.quantize(colours).save(out, optimize=True)
            if out.stat().st_size <= max_bytes or colours <= 16:
                return
            colours //= 2


def main(page: str, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        driver = chromium(Path(tmp) / "profile")
        try:
            driver.get(Path(page).resolve().as_uri())
            # Show what a reader opens first: the log of the first failure.
            driver.execute_script(
                "var log = document.querySelector('tr[data-status=failed] details.log');"
                "if (log) { log.open = true; }"
            )
            raw = Path(tmp) / "full.png"
            raw.write_bytes(full_page_png(driver))
        finally:
            driver.quit()
        shrink(raw, Path(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
