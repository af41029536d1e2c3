"""The benchmarks: `npm run bench -- cpu|gpu|browser|features` (python3 -m scripts.bench from the
repository root). common.py holds what they share; cpu.py, gpu.py and features.py are one
subcommand each; browser.mjs runs in headless Chromium for `browser` and for the others."""
