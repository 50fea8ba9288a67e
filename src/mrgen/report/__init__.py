"""Tables and figures, rendered from metrics files only (never from models)."""
