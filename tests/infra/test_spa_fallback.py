"""The sites' CloudFront viewer-request function (infra/site.yaml), run in Node: client-side
routes, including deep links whose UIDs hold dots (/studies/1.2.840...), are served index.html;
the sites' own files are served as they are."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devstack import ohif
from infra import deploy

ROOT = Path(__file__).resolve().parents[2]

ROUTES = ["/", "/studies/1.2.840.113619.2.55.3/series/1.3.12.2", "/albums/abc", "/callback", "/viewer/1.2.3.4",
          "/viewer/dicomweb", "/studies/1.2.840.113619.2.55.3", "/segmentation"]
FILES = ["/app.js", "/js/main.js", "/app.css", "/config.json", "/assets/logo.svg", "/favicon.ico",
         "/codecs/openjpegwasm.wasm", "/index.html", "/fonts/x.woff2"]
# Files OHIF's prebuilt site ships whose extensions no list of "static" ones had (ohif/dist).
OHIF_FILES = ["/assets/manifest.webapp", "/customizations/tools/ctPresets.jsonc",
              "/customizations/segmentation/binary.jsonc", "/assets/browserconfig.xml",
              "/0ddf166f7a343eda.wasm", "/100.bundle.cb02411ce321d4e4.js", "/1602.css", "/app-config.js"]
BUILT_SITES = [ROOT / "ohif" / "dist", ROOT / "web" / "dist"]


def rewrite(uris: list[str]) -> list[str]:
    code = yaml.safe_load(deploy.SITE.read_text())["Resources"]["SpaFallbackFunction"]["Properties"]["FunctionCode"]
    script = code + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}).uri)));"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node to run the CloudFront function")
def test_routes_with_dots_get_index_html_and_files_are_left_alone():
    assert rewrite(ROUTES) == ["/index.html"] * len(ROUTES)
    assert rewrite(FILES) == FILES


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node to run the CloudFront function")
def test_every_file_the_sites_ship_is_served_as_it_is():
    """OHIF's `.jsonc` customizations and `.webapp` manifest, and every file of a built site."""
    built = [f"/{p.relative_to(site).as_posix()}" for site in BUILT_SITES if site.is_dir()
             for p in site.rglob("*") if p.is_file() and not p.name.startswith(".")]
    files = OHIF_FILES + built
    assert rewrite(files) == files


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="needs Node to run the CloudFront function and npm to fetch OHIF")
def test_every_file_of_a_fresh_ohif_build_is_served_as_it_is(tmp_path):
    """OHIF's package ships Netlify's extension-less `_headers`: the site's function would answer
    index.html in its place, so the build leaves it out (a clean clone has no ohif/dist to check)."""
    dist = ohif.build("https://obelisk.example.org/api", tmp_path / "dist")
    built = [f"/{p.relative_to(dist).as_posix()}" for p in dist.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(built) > 100
    assert rewrite(built) == built
