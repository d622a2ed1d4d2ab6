"""chromium.py: what the browser tests share — a tiny site of fixed pages on
loopback, and headless Chromium (Debian's chromium and chromium-driver,
driven by python3-selenium) whose User-Agent is a person's browser."""
import http.server
import threading
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def serve(pages, port):
    """Serves pages ({path: bytes}, text/html) on 127.0.0.1:port in a thread; returns the base URL."""
    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(urllib.parse.urlsplit(self.path).path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *a):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), Site)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{site.server_address[1]}"


def browser(dnt=False, width=1000, height=800):
    """Starts headless Chromium. Headless Chromium names itself in its
    User-Agent, which the collector rightly classes a bot: these pages stand
    for a person's browser, so it says it is one."""
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
              "--disable-dev-shm-usage"):
        o.add_argument(a)
    o.add_argument("--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                   "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if dnt:
        o.add_experimental_option("prefs", {"enable_do_not_track": True})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
