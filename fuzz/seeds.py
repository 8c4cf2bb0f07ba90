#!/usr/bin/env python3
"""Writes the seed corpora taken from the repository's real examples and RFC vectors into
corpus/<target>/ (run from fuzz/; see README.md). `write_seeds -runs=1` adds the seeds
that need the libraries (authentic STUN exchanges, a rustls ClientHello, sealed tickets),
and README.md tells how the OpenSSL ClientHello was captured."""

import hashlib
import os
import re
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def src(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def write(target, name, data):
    os.makedirs(os.path.join("corpus", target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join("corpus", target, name), "wb") as f:
        f.write(data)


def raw_strings(text):
    return re.findall(r'r#"(.*?)"#', text, re.S)


def string_literals(text):
    return [bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text)]


# --- STUN: RFC 5769 and RFC 8489 B.1 vectors (turn-auth/tests/stun_vectors.rs). ---------
vectors = re.findall(r'const (\w+): &str = "([0-9a-f]{40,})";', src("turn-auth/tests/stun_vectors.rs"))
for name, hexed in vectors:
    data = bytes.fromhex(hexed)
    write("stun_parse", "rfc-" + name.lower(), data)
    # The same datagram plain, then re-signed as an authentic request.
    write("stun_auth", "rfc-" + name.lower(),
          b"\x00" + struct.pack(">H", len(data)) + data + b"\x04" + struct.pack(">H", len(data)) + data)
# ChannelData: channel 0x4000, 5 bytes of data padded to 8.
write("stun_parse", "channel-data", bytes.fromhex("400000056869207468657200"))

# --- Cookie headers (cookie-migrate/tests, plus browser-like ones). ---------------------
cookie_tests = src("cookie-migrate/tests/migration.rs") + src("cookie-migrate/tests/incident.rs")
headers = sorted({s for s in string_literals(cookie_tests) if "=" in s and len(s) < 300 and "\n" not in s
                  and not s.startswith(("http", "/")) and "Max-Age" not in s and "Path=" not in s})
for i, flags in enumerate([0x00, 0x01, 0x02, 0x04, 0x08]):
    chunk = headers[i::5]
    if chunk:
        write("cookie_migrate", f"tests-{i}", bytes([flags]) + "\n".join(chunk).encode())
write("cookie_migrate", "chrome-duplicates",
      b"\x00sid=expired-1; _ga=GA1.2.1234567890.1700000000; theme=dark; sid=live-2\n"
      b"__Host-sid=live-3; _gid=GA1.2.987654321.1700000000")
write("cookie_migrate", "safari-order",
      b"\x01__Host-sid=stale-1; sid=live-2; SESSION=live-9; csrftoken=Zx9_aa; __Host-sid=live-4")

# --- Twilio: the SDK vectors (twiml/tests/sdk_vectors.rs). --------------------------------
sdk = src("twiml/tests/sdk_vectors.rs")
url = re.search(r'const URL: &str = "([^"]+)"', sdk).group(1)
sig = re.search(r'const SIGNATURE: &str = "([^"]+)"', sdk).group(1)
body = re.search(r"const BODY: &str = r#\"(.*?)\"#", sdk).group(1)
params = re.findall(r'\("(\w+)", "([^"]*)"\)', sdk.split("const PARAMS")[1].split("];")[0])
form = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in params)
body_url = url + "&bodySHA256=" + hashlib.sha256(body.encode()).hexdigest()
sep = "\n--\n"
write("twilio_signature", "sdk-form", sep.join([url, form, body, sig, "/myapp.php?foo=1&bar=2", ""]))
write("twilio_signature", "sdk-json", sep.join([body_url, "", body, sig, "/voice", ""]))
write("twilio_signature", "forwarded", sep.join([
    "https://mycompany.com:443/myapp.php?foo=1&bar=2&x='q'", form, body, sig, "/voice/next/?a=%27b%27",
    "x-forwarded-proto: http\nx-forwarded-host: evil.example\nforwarded: proto=https;host=\"ivr.example.com\""]))
write("twilio_signature", "websocket", sep.join(["wss://media.example.com/stream?x=1", "", "", "", "", ""]))

# --- Rate-limit keyer headers. ---------------------------------------------------------------
write("ratelimit_keyer", "xff-trusted",
      b"\x01x-forwarded-for: 198.51.100.1, 203.0.113.7, 10.0.0.2\nx-forwarded-for: 10.0.0.3\n/api/v1/items")
write("ratelimit_keyer", "forwarded-v6",
      b"\x02forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"\n"
      b"forwarded: for=unknown, for=_hidden\n/")
write("ratelimit_keyer", "cookie-and-api-key",
      b"\x00cookie: session=ok-abc; theme=dark; session=bad\nx-api-key: k-123\nx-forwarded-for: 1.2.3.4\n/login")
write("ratelimit_keyer", "no-peer", b"\x03x-api-key: \xff\xfe\ncookie: session=\"ok-quoted\"")

# --- Rate-limit configuration: the tests' examples and the README's. ---------------------
config_tests = src("ratelimit/tests/config.rs")
texts = raw_strings(config_tests)
readme = src("ratelimit/README.md")
texts += re.findall(r"```toml\n(.*?)```", readme, re.S)
texts += re.findall(r"```json\n(.*?)```", readme, re.S)
texts += raw_strings(src("ratelimit/src/config.rs"))
for i, text in enumerate(t for t in texts if "[" in t or "{" in t):
    write("ratelimit_config", f"example-{i}", text.strip("\n").replace("//! ", "").replace("//!", ""))
