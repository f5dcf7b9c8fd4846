"""python-slugify (pure Python, by Val Neekman) with text-unidecode: URL slugs from titles."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkgs"))

from slugify import slugify  # noqa: E402

titles = ["Héllo Wörld!", "C'est déjà l'été", "日本語 text", "  spaced   out  "]
slugs = [slugify(t) for t in titles]
short = slugify("A very long title that goes on", max_length=12, word_boundary=True)
print(slugs, short)
