"""KHEOPS JSON, built from typed values (store items, DICOM JSON study entries), one module per
resource. Pure: a serializer reads nothing and decides nothing; `api/`, the services and the
feature packages call it (docs/architecture.md, "Layers")."""
