"""Obelisk's API function and event functions: a table of contents. Everything else lives in
`chalicelib/`."""
from chalice import Chalice

from chalicelib import allocator, collector
from chalicelib.api import (
    access_log,
    albums,
    capabilities,
    health,
    launch,
    openapi,
    qido,
    reporting,
    reportproviders,
    responses,
    sharing,
    stow,
    tokens,
    uploads,
    users,
    wado,
    webhooks,
)
from chalicelib.config import settings
from chalicelib.events import messages
from chalicelib.reporting import returns as report_returns
from chalicelib.services import renditions, research
from chalicelib.webhooks import delivery as webhooks_delivery
from chalicelib.webhooks import fan_out as webhook_fan_out

app = Chalice(app_name="obelisk")
app.api.binary_types.extend([
    "multipart/related", "application/dicom", "application/octet-stream", "application/zip",
    "image/jpeg", "image/png", "image/gif",
])
app.register_middleware(responses.text_bodies_as_text(app.api.binary_types), "http")
app.register_middleware(access_log.middleware, "http")

for blueprint in (health.bp, users.bp, stow.bp, uploads.bp, qido.bp, wado.bp, capabilities.bp, tokens.bp,
                  launch.bp, reportproviders.bp, albums.bp, sharing.bp, webhooks.bp, openapi.bp,
                  reporting.bp):
    app.register_blueprint(blueprint)


# Batch size 1: a record that raises is redelivered by SQS (then dead-lettered) on its own.
@app.on_sqs_message(queue=settings().events_queue, batch_size=1, name="webhook_fan_out")
def on_album_event(event):
    for record in event:
        webhook_fan_out.fan_out(messages.parse(record.body, messages.EVENTS))


# Every retried POST (webhooks, reports returned to their site) shares the deliveries queue; a
# message's `kind` names its class (`chalicelib.events.messages`), its class the handler.
DELIVERIES = {messages.WebhookDelivery: webhooks_delivery.deliver, messages.ReportReturn: report_returns.deliver}


@app.on_sqs_message(queue=settings().deliveries_queue, batch_size=1, name="webhook_delivery")
def on_delivery(event):
    for record in event:
        message = messages.parse(record.body, messages.DELIVERIES)
        DELIVERIES[type(message)](message)


# Series objects (metadata, multipart) of series grown by small STOWs, built once the series is quiet.
@app.on_sqs_message(queue=settings().renditions_queue, batch_size=1, name="series_renditions")
def on_series_grown(event):
    for record in event:
        renditions.build_if_settled(messages.parse(record.body, messages.RENDITIONS))


# Series entering research albums: the de-identified copy placed, or the series held for release.
@app.on_sqs_message(queue=settings().research_queue, batch_size=1, name="research_copies")
def on_research_intake(event):
    for record in event:
        research.copy_series(messages.parse(record.body, messages.RESEARCH))


# Everything above is loaded once per Lambda instance: out of the collector's way from here on,
# and freed buffers kept for the next request (chalicelib/allocator.py).
collector.collect_less()
allocator.keep_freed_memory()
