"""Pure renderers: (model, settings) -> complete child manifests. No I/O here."""
