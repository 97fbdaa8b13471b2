"""Layer 1, below everything: the one ``SRError``, signals, atomic files, downloads, moved-module paths."""
