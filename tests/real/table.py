"""tabulate (pure Python, by Sergey Astanin): format a small table."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkgs"))

from tabulate import tabulate  # noqa: E402

rows = [["apple", 3, 1.5], ["pear", 10, 0.25]]
print(tabulate(rows, headers=["fruit", "count", "price"]))
