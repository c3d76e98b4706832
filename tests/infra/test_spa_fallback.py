"""The sites' CloudFront viewer-request function (infra/site.yaml), run in Node: client-side
routes, including deep links whose UIDs hold dots (/studies/1.2.840...), are served index.html;
the sites' own files are served as they are."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from infra import deploy

ROUTES = ["/", "/studies/1.2.840.113619.2.55.3/series/1.3.12.2", "/albums/abc", "/callback", "/viewer/1.2.3.4"]
FILES = ["/app.js", "/js/main.js", "/app.css", "/config.json", "/assets/logo.svg", "/favicon.ico",
         "/codecs/openjpegwasm.wasm", "/index.html", "/fonts/x.woff2"]


def rewrite(uris: list[str]) -> list[str]:
    code = yaml.safe_load(deploy.SITE.read_text())["Resources"]["SpaFallbackFunction"]["Properties"]["FunctionCode"]
    script = code + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}).uri)));"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node to run the CloudFront function")
def test_routes_with_dots_get_index_html_and_files_are_left_alone():
    assert rewrite(ROUTES) == ["/index.html"] * len(ROUTES)
    assert rewrite(FILES) == FILES
