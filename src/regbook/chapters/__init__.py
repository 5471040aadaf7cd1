"""Code exported from the chapter notebooks (see tools/nbexport.py)."""
