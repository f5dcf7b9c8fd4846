"""Dies of an exception nothing catches in its main thread, while another
thread lingers until the file named by its argument appears (the
interpreter waits for it before it exits)."""
import os
import sys
import threading
import time


def linger(stop):
    while not os.path.exists(stop):
        time.sleep(0.01)


threading.Thread(target=linger, args=(sys.argv[1],)).start()
total = 0
for i in range(1000):
    total += i
raise ValueError("the main thread gives up at %d" % total)
