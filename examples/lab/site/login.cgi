#!/usr/bin/python3
"""The lab site's login form: GET shows it, POST checks the user and password against the site's
accounts. A failure answers 401 and tells the web server's error log, as login modules do."""
import os
import sys
import urllib.parse

ACCOUNTS = {"alice": "Tr0ub4dor-alice", "bob": "correct-horse-bob", "carol": "Sunflower!carol77", "dave": "dave-Quartz-2024",
            "erin": "Erin.pass.9921", "frank": "Frank#Lighthouse4", "grace": "grace-Marigold-8", "heidi": "Heidi^Tundra5",
            "ivan": "ivan-Cobalt-31", "judy": "Judy_Orchid_77", "mallory": "Mal-Glacier-06", "oscar": "Oscar+Harbor12"}

FORM = "<form method=post action=/cgi-bin/login><input name=user><input name=password type=password><button>Log in</button></form>"

method = os.environ.get("REQUEST_METHOD", "GET")
if method != "POST":
    print("Content-Type: text/html\n\n<!doctype html><html><body><h1>Log in</h1>" + FORM + "</body></html>")
    sys.exit(0)
length = int(os.environ.get("CONTENT_LENGTH") or 0)
fields = urllib.parse.parse_qs(sys.stdin.read(min(length, 4096)))
user = fields.get("user", [""])[0][:64]
password = fields.get("password", [""])[0]
client = os.environ.get("REMOTE_ADDR", "-")
if user in ACCOUNTS and ACCOUNTS[user] == password:
    print("Status: 200 OK\nContent-Type: text/html\n\n<!doctype html><html><body>Welcome, %s.</body></html>" % user)
else:
    print("login failed for user %s from %s" % (user.encode("unicode_escape").decode(), client), file=sys.stderr)
    print("Status: 401 Unauthorized\nContent-Type: text/html\n\n<!doctype html><html><body>Invalid login. " + FORM + "</body></html>")
