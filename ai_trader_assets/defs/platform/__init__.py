"""Platform-wide resources: configuration, market database, lake."""
