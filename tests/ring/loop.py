"""Two steps a round for as many rounds as its argument says, then an
exception nothing catches."""
import sys

total = 0
for i in range(int(sys.argv[1])):
    total += i
raise RuntimeError("looped %d times" % total)
