#!/usr/bin/env python3
"""Runs one command and prints `<wall seconds> <peak RSS MiB>` of it (getrusage of the child)."""
import resource, subprocess, sys, time

t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t0
if r.returncode != 0:
    sys.stderr.write(r.stderr)
    sys.exit(r.returncode)
rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{wall:.2f} {rss_mib:.0f}")
