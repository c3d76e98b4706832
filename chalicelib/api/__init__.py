"""HTTP entry points: one blueprint per resource family. Routes parse, call a service, shape."""
