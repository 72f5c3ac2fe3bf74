"""Container healthcheck: exit 0 when this container's web process answers /healthz with 200.

Used by the Dockerfile's HEALTHCHECK and docker-compose.yml. The probe talks to the
process directly (not through the proxy), so it presents itself the way the proxy does:
a Host from DJANGO_ALLOWED_HOSTS (otherwise Django answers 400) and
``X-Forwarded-Proto: https`` (otherwise SECURE_SSL_REDIRECT answers 301).
Standard library only: it runs before anything else is known to work.
"""

import http.client
import os
import sys


def probe_host() -> str:
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = host.strip()
        if host and host != "*":
            # ".example.org" allows every subdomain; any one of them will do.
            return "www" + host if host.startswith(".") else host
    return "localhost"


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "4"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "GET", "/healthz", headers={"Host": probe_host(), "X-Forwarded-Proto": "https"}
        )
        response = connection.getresponse()
        body = response.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(response.status, body)
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
