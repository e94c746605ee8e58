"""One module per outside system. Nothing here knows a partner-program rule."""
