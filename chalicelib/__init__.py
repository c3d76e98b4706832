"""Obelisk: a KHEOPS-compatible DICOM sharing and authorization platform on AWS serverless."""
