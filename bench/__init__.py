"""`make bench`: Obelisk side by side with Orthanc on this machine (same run, client and data)."""
