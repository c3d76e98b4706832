"""The local platform: AWS emulator, resources, API server, pollers and static sites on one machine."""
