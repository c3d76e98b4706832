"""Obelisk's API function: a table of contents. Everything else lives in `chalicelib/`."""
from chalice import Chalice

from chalicelib.api import (
    albums,
    capabilities,
    health,
    launch,
    qido,
    reportproviders,
    sharing,
    stow,
    tokens,
    users,
    wado,
)

app = Chalice(app_name="obelisk")
app.api.binary_types.extend([
    "multipart/related", "application/dicom", "application/octet-stream", "application/zip",
    "image/jpeg", "image/png", "image/gif",
])

for blueprint in (health.bp, users.bp, stow.bp, qido.bp, wado.bp, capabilities.bp, tokens.bp, launch.bp,
                  reportproviders.bp, albums.bp, sharing.bp):
    app.register_blueprint(blueprint)
