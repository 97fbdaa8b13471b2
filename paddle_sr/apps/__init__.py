"""Layer 8: what users touch besides the command line: the browser app's service, ``show_image``, notebook helpers."""
