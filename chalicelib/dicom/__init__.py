"""DICOM knowledge: multipart bodies, DICOM JSON, UIDs, QIDO matching. No AWS, no HTTP."""
