"""Album webhooks, one feature (docs/webhooks.md): `management` (create, list, edit, delete, trigger by
hand; album admins only), `fan_out` (events-queue message -> triggers and first deliveries, `HANDLERS`),
`debounce` (the `new_series` quiet period), `payloads` (the KHEOPS JSON bodies), `delivery` (signed
POSTs through `events.deliveries`). The routes are in `api/webhooks.py`, the items in `store/`."""
