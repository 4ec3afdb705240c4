"""Experiment 2: not implemented yet (see the open issue for experiments 1-3)."""
import sys

if __name__ == "__main__":
    sys.exit("experiment2.py: not implemented yet")
