#!/usr/bin/env python3
"""What an append + fdatasync costs on this machine's disk, into a file that grows with each
append (as Redraft's log segments do today) and into one whose blocks were written (zeros) and
synced beforehand, so an append changes neither its size nor its block map.

Usage: bench/fsync.py [--dir DIR] [--appends N] [--record BYTES] [--rounds R]
Prints, per round and mode, the wall and CPU time per append + fdatasync.
"""
import argparse
import os
import tempfile
import time


def run(directory, preallocated, appends, record):
    fd, path = tempfile.mkstemp(dir=directory, prefix="redraft-fsync-")
    try:
        if preallocated:
            zeros = b"\0" * (1 << 20)
            for _ in range((appends * record >> 20) + 1):
                os.write(fd, zeros)
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        buf = b"x" * record
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(appends):
            os.write(fd, buf)
            os.fdatasync(fd)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        os.close(fd)
        os.unlink(path)
    return wall / appends * 1e6, cpu / appends * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--record", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"dir {args.dir}, {args.appends} appends of {args.record} bytes, each fdatasynced")
    for r in range(args.rounds):
        for preallocated in (False, True):
            wall, cpu = run(args.dir, preallocated, args.appends, args.record)
            mode = "preallocated" if preallocated else "growing     "
            print(f"round {r + 1} {mode}: {wall:6.0f} us wall, {cpu:5.0f} us CPU per append")


if __name__ == "__main__":
    main()
