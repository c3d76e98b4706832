"""Storage adapters: PynamoDB models for DynamoDB and the S3 DICOM store."""
