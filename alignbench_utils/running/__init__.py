"""Running requests: the engine (plan by request hash, bounded driving), the endpoint client, budget, spend accounting, token estimates and the run-folder lock."""
