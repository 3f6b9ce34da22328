"""Make docs/graph-html.png: the `--format html` page of the lecture example, mid-sweep.

    python docs/html_screenshot.py

Writes the page with the command a user runs, opens it in headless Chromium (Debian's
`chromium` and `chromium-driver`, driven by selenium, as the tests do), chooses the reverse
sweep, presses Step four times (d(o)/d(x) has received the first of its two contributions)
and saves a screenshot of the window.  Needs the test extra (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lecture_sin.grad"
PNG = ROOT / "docs" / "graph-html.png"
STEPS = 4
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,800",
         "--force-device-scale-factor=1"]


def main() -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    chrome, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chrome is None or driver is None:
        print("needs Chromium and its driver: apt-get install chromium chromium-driver", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "lecture_sin.html"
        subprocess.run([sys.executable, "-m", "gradcli", "graph", "examples/lecture_sin.grad",
                        "--format", "html", "-o", str(page)], cwd=ROOT, check=True)
        options = webdriver.ChromeOptions()
        options.binary_location = chrome
        for flag in FLAGS + [f"--user-data-dir={Path(tmp) / 'profile'}"]:
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=Service(driver))
        try:
            browser.get(page.as_uri())
            Select(browser.find_element(By.ID, "gc-mode")).select_by_value("reverse")
            for _ in range(STEPS):
                browser.find_element(By.ID, "gc-step").click()
            browser.save_screenshot(str(PNG))
        finally:
            browser.quit()
    print(f"wrote {PNG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
