"""The portal's pages, a module per audience; `urls.py` gathers their routes."""
