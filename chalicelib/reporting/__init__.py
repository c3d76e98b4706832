"""Embeddable reporting: sites, reports, one-time launch codes, and the outputs of a signed report."""
