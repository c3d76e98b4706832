"""`obelisk`: the command-line client of an Obelisk (or any DICOMweb) server: upload, download, import."""
