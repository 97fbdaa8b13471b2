"""Download-and-prepare scripts for DIV2K, CelebA and the benchmark sets (run each with --help)."""
