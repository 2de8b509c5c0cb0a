"""kopf handlers: decorators only, each a few lines calling reconcile."""
