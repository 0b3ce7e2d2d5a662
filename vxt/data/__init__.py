"""Data: manifests, media decoding, the media cache, dataset adapters, batching."""
