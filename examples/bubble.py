"""A small program to record: bubble sort of a shuffled list, with an alias."""
import random


def bubble(items):
    n = len(items)
    for i in range(n):
        swapped = False
        for j in range(n - 1 - i):
            if items[j] > items[j + 1]:
                items[j], items[j + 1] = items[j + 1], items[j]
                swapped = True
        if not swapped:
            break
    return items


random.seed(7)
data = list(range(8))
random.shuffle(data)
alias = data
result = bubble(data)
print(result)
