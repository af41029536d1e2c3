"""Makes scripts/ a package, so `python3 -m scripts.bench` (npm run bench) finds this repository's
scripts/bench/ before any installed module named `scripts`."""
