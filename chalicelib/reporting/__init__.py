"""Embeddable reporting (docs/reporting.md): sites, reports, the outputs of a signed report and their
return to the site (`returns`). Not the KHEOPS report providers (`report_providers/`); the launch
codes and sessions are credentials, in `auth/reporting_secrets.py` and `auth/reporting_sessions.py`."""
