"""Reconcilers: parse -> render -> apply -> observe -> conditions -> status."""
