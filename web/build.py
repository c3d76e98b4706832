"""Builds the web app: copies `web/src` (plain ES modules and CSS, no bundler) to a folder S3 serves,
and writes the `config.json` the app reads at start (API URL, sign-in mode, viewer URL)."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "src"
DIST = Path(__file__).resolve().parent / "dist"


def password_auth(emulator_url: str, client_id: str) -> dict:
    """Local sign-in: a form calling Cognito's InitiateAuth (USER_PASSWORD_AUTH) at the emulator."""
    return {"mode": "password", "cognito_endpoint": emulator_url.rstrip("/"), "client_id": client_id}


def oidc_auth(authorization_endpoint: str, token_endpoint: str, client_id: str,
              logout_endpoint: str = "",
              scope: str = "openid email profile aws.cognito.signin.user.admin") -> dict:
    """Deployed sign-in: authorization code with PKCE at the provider's hosted pages (Cognito)."""
    return {"mode": "oidc", "authorization_endpoint": authorization_endpoint, "token_endpoint": token_endpoint,
            "client_id": client_id, "logout_endpoint": logout_endpoint, "scope": scope}


def build_site(destination: Path, api_url: str, auth: dict | None, ohif_url: str = "") -> Path:
    """A complete site in `destination`: the sources plus `config.json`."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(SOURCES, destination)
    write_config(destination, api_url, auth, ohif_url)
    return destination


def write_config(destination: Path, api_url: str, auth: dict | None, ohif_url: str = "") -> None:
    config = {"api_url": api_url.rstrip("/"), "auth": auth or {"mode": "none"}, "ohif_url": ohif_url.rstrip("/")}
    (destination / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DIST)
    parser.add_argument("--api-url", default="http://127.0.0.1:3000/api")
    parser.add_argument("--ohif-url", default="http://127.0.0.1:3001")
    parser.add_argument("--client-id", default="")
    parser.add_argument("--cognito-endpoint", default="", help="password mode: the Cognito (emulator) endpoint")
    parser.add_argument("--authorization-endpoint", default="", help="OIDC mode: the provider's /authorize")
    parser.add_argument("--token-endpoint", default="")
    parser.add_argument("--logout-endpoint", default="")
    args = parser.parse_args(argv)
    auth = None
    if args.authorization_endpoint:
        auth = oidc_auth(args.authorization_endpoint, args.token_endpoint, args.client_id, args.logout_endpoint)
    elif args.cognito_endpoint:
        auth = password_auth(args.cognito_endpoint, args.client_id)
    print(build_site(args.out, args.api_url, auth, args.ohif_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
